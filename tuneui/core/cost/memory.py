"""GPU memory of LoRA and QLoRA training, term by term, from a model's config.json alone.

Every constant is a count of bytes a tensor of the training step holds; docs/cost.md lists them
with their sources. The terms follow what peak memory is made of in a transformers + peft + trl
step: frozen weights, the adapters with their gradients and Adam moments, the activations saved
for the backward pass, the logits of the loss, and what CUDA itself takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from tuneui.errors import TuneError

Method = Literal["qlora", "lora"]

GIB = 1024**3
# NF4 with double quantization: 4 bits per weight + an 8-bit absmax per 64 weights + an fp32
# constant per 256 absmax values = 4 + 0.125 + 0.002 bits ≈ 0.516 bytes (QLoRA paper, §2).
NF4_BYTES_PER_PARAM = 0.516
BF16_BYTES = 2
# Adapter weight + gradient + Adam m + v. peft keeps bf16-model adapters in fp32 (4 × 4 bytes);
# trl's SFTTrainer casts QLoRA adapters to bf16, as the QLoRA paper does (4 × 2 bytes).
ADAPTER_BYTES_PER_PARAM = {"lora": 16, "qlora": 8}
# Materialized logits, per token and vocabulary entry: the bf16 lm_head output (2), the fp32
# copy transformers' loss makes (4) and the log-softmax output cross-entropy saves (4).
LOGITS_BYTES_PER_VOCAB = 10
# trl's SFTTrainer (>= 1.0) never materializes the logits: its fused LM head projects tiles of
# 4,096 tokens × 32,768 vocabulary entries (trl/kernels/chunked_logprob.py) into one bf16 buffer,
# and keeps per token a bf16 copy of the final hidden state, its fp32 gradient and ~9 fp32 statistics.
FUSED_TILE_TOKENS = 4096
FUSED_TILE_VOCAB = 32768
FUSED_BYTES_PER_TOKEN_STATS = 36
# CUDA context, cuBLAS workspaces and allocator slack: outside max_memory_allocated, inside the GPU.
CUDA_OVERHEAD_GIB = 1.0


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a decoder-only transformer that memory depends on."""

    hidden: int
    layers: int
    intermediate: int
    vocab: int
    q_dim: int  # heads × head_dim
    kv_dim: int  # key/value heads × head_dim
    tied_embeddings: bool

    @property
    def linear_parameters(self) -> int:
        """The projections of every layer: what QLoRA quantizes and LoRA adapts."""
        attention = self.hidden * self.q_dim * 2 + self.hidden * self.kv_dim * 2
        return self.layers * (attention + 3 * self.hidden * self.intermediate)

    @property
    def embedding_parameters(self) -> int:
        """Input embeddings and, when untied, lm_head: both stay 16-bit under QLoRA."""
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def norm_parameters(self) -> int:
        return (2 * self.layers + 1) * self.hidden

    @property
    def parameters(self) -> int:
        return self.linear_parameters + self.embedding_parameters + self.norm_parameters

    @property
    def matmul_parameters(self) -> int:
        """Parameters a token multiplies through (embedding lookup is free; lm_head is not)."""
        return self.linear_parameters + self.vocab * self.hidden


@dataclass(frozen=True)
class MemoryBreakdown:
    """GiB per term; `total` is what the GPU must hold."""

    weights: float
    adapters_and_optimizer: float
    activations: float
    logits: float
    overhead: float

    @property
    def total(self) -> float:
        return self.weights + self.adapters_and_optimizer + self.activations + self.logits + self.overhead

    def to_json(self) -> dict[str, float]:
        terms = {
            "weights": self.weights,
            "adapters_and_optimizer": self.adapters_and_optimizer,
            "activations": self.activations,
            "logits": self.logits,
            "overhead": self.overhead,
            "total": self.total,
        }
        return {name: round(value, 2) for name, value in terms.items()}


def model_shape(config: Mapping[str, Any], where: str = "config.json") -> ModelShape:
    """Read the sizes of a Llama/Qwen/Mistral-class config (multimodal ones: their `text_config`)."""
    text = config.get("text_config") or config
    try:
        hidden = int(text["hidden_size"])
        layers = int(text["num_hidden_layers"])
        vocab = int(text["vocab_size"])
        heads = int(text["num_attention_heads"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TuneError(
            f"{where} does not describe a decoder-only transformer (missing or bad {exc})",
            "tuneui estimates Llama/Qwen/Mistral-class models; check the model folder.",
        ) from None
    kv_heads = int(text.get("num_key_value_heads") or heads)
    head_dim = int(text.get("head_dim") or hidden // heads)
    return ModelShape(
        hidden=hidden,
        layers=layers,
        intermediate=int(text.get("intermediate_size") or 4 * hidden),
        vocab=vocab,
        q_dim=heads * head_dim,
        kv_dim=kv_heads * head_dim,
        tied_embeddings=bool(text.get("tie_word_embeddings", config.get("tie_word_embeddings", False))),
    )


def lora_parameters(shape: ModelShape, rank: int) -> int:
    """r·(d_in + d_out) for each adapted matrix: q, k, v, o, gate, up and down of every layer."""
    h, i = shape.hidden, shape.intermediate
    per_layer = (h + shape.q_dim) * 2 + (h + shape.kv_dim) * 2 + (h + i) * 3
    return shape.layers * rank * per_layer


def packed_rows(train_tokens: Sequence[int], batch_size: int, max_length: int) -> int:
    """Packed rows of `max_length` tokens per step holding about `batch_size` examples' worth.

    Padding-free packing changes what a step holds: rows filled with real tokens instead of
    `batch_size` examples padded to the longest. The recipe sizes its batch with this, and the
    memory estimate counts the same tokens, so both follow one rule.
    """
    if not train_tokens:
        return batch_size
    kept = [min(count, max_length) for count in train_tokens]
    return max(1, round(batch_size * (sum(kept) / len(kept)) / max_length))


def activation_bytes_per_token_layer(shape: ModelShape, method: Method, dropout: bool, liger: bool = False) -> int:
    """Bytes one decoder layer saves for the backward pass, per token, without checkpointing.

    Counted tensor by tensor for a transformers Llama layer with SDPA/flash attention under peft
    and bf16 autocast: each RMSNorm keeps its fp32 input (4h each); attention keeps q, k, v and its
    output in bf16 (2q + 2kv + 2kv + 2q); the MLP keeps gate and up outputs and SiLU(gate) (3 × 2i).
    Liger's kernels save less: its RMSNorm keeps the bf16 input and an fp32 inverse RMS per token
    (2h + 4 each), its SwiGLU only gate and up (2 × 2i), recomputing SiLU in the backward pass.
    The adapters keep their inputs: 3h + q + 2h + i elements per token across q, k, v, o, gate,
    up and down. fp32 adapters (bf16 LoRA) cast their input each, so each keeps its own bf16
    copy (2 bytes), plus a 1-byte dropout mask with dropout. bf16 adapters (QLoRA) share the
    layer's tensors without dropout (2h + 2q + 2h + 2i); with dropout each gets a dropped copy
    and mask (3 bytes) and bitsandbytes' 4-bit matmul keeps the undropped inputs too.
    """
    h, q, kv, i = shape.hidden, shape.q_dim, shape.kv_dim, shape.intermediate
    norms = (2 * h + 4) * 2 if liger else 4 * h * 2
    attention = 4 * q + 4 * kv
    mlp = 4 * i if liger else 6 * i
    adapter_inputs = 3 * h + q + 2 * h + i
    shared_inputs = 2 * h + 2 * q + 2 * h + 2 * i
    if method == "lora":
        adapters = (3 if dropout else 2) * adapter_inputs
    else:
        adapters = 3 * adapter_inputs + shared_inputs if dropout else shared_inputs
    return norms + attention + mlp + adapters


def memory_breakdown(
    shape: ModelShape,
    method: Method,
    *,
    tokens_per_step: int,
    lora_rank: int,
    gradient_checkpointing: bool,
    lora_dropout: bool = True,
    fused_logits: bool = True,
    liger: bool = False,
) -> MemoryBreakdown:
    """The peak memory of one training step over `tokens_per_step` tokens (batch × sequence).

    `fused_logits`: the loss goes through trl's fused LM head (what the local backend trains
    with); False for a plain transformers forward with labels, which materializes the logits.
    `liger`: Liger Kernel's RMSNorm and SwiGLU replace transformers' (smaller saved activations).
    """
    if method == "qlora":
        weights = shape.linear_parameters * NF4_BYTES_PER_PARAM + (shape.embedding_parameters + shape.norm_parameters) * BF16_BYTES
    else:
        weights = shape.parameters * BF16_BYTES
    adapters = lora_parameters(shape, lora_rank) * ADAPTER_BYTES_PER_PARAM[method]
    per_layer = activation_bytes_per_token_layer(shape, method, lora_dropout, liger)
    final_norm = 2 * shape.hidden + 4 if liger else 4 * shape.hidden
    if gradient_checkpointing:
        # Each layer keeps only its bf16 input; the backward pass recomputes one layer at a time.
        activations = tokens_per_step * (shape.layers * BF16_BYTES * shape.hidden + per_layer + final_norm)
    else:
        activations = tokens_per_step * (shape.layers * per_layer + final_norm)
    if fused_logits:
        tile = min(tokens_per_step, FUSED_TILE_TOKENS) * min(shape.vocab, FUSED_TILE_VOCAB) * BF16_BYTES
        logits = tile + tokens_per_step * (6 * shape.hidden + FUSED_BYTES_PER_TOKEN_STATS)
    else:
        logits = tokens_per_step * shape.vocab * LOGITS_BYTES_PER_VOCAB
    return MemoryBreakdown(
        weights=weights / GIB,
        adapters_and_optimizer=adapters / GIB,
        activations=activations / GIB,
        logits=logits / GIB,
        overhead=CUDA_OVERHEAD_GIB,
    )


def training_flops(shape: ModelShape, tokens: int, sequence: int, gradient_checkpointing: bool) -> float:
    """FLOPs to train on `tokens` tokens with a frozen base.

    Forward 2N per token; backward 2N (input gradients only: frozen weights need no weight
    gradients); causal attention adds 2·s·q_dim per layer forward and twice that backward.
    Checkpointing recomputes the forward: ×1.5.
    """
    per_token = 4 * shape.matmul_parameters + 6 * sequence * shape.q_dim * shape.layers
    return tokens * per_token * (1.5 if gradient_checkpointing else 1.0)
