"""The memory estimate follows the kernels the run uses: Liger's activations, padding-free rows."""

from __future__ import annotations

import pytest

from tuneui.core.cost import local_estimate, memory_breakdown, model_shape
from tuneui.core.cost.memory import packed_rows
from tuneui.core.gpu import Gpu

GIB = 1024**3
LLAMA_1B = {
    "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
    "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256,
    "tie_word_embeddings": True,
}  # fmt: skip
H100 = Gpu("NVIDIA H100 80GB HBM3", 79.6, 989.0)


def test_liger_saves_the_fp32_norm_inputs_and_one_mlp_tensor_per_layer():
    shape = model_shape(LLAMA_1B)
    tokens = 4 * 2048
    plain = memory_breakdown(shape, "qlora", tokens_per_step=tokens, lora_rank=16, gradient_checkpointing=False)
    liger = memory_breakdown(shape, "qlora", tokens_per_step=tokens, lora_rank=16, gradient_checkpointing=False, liger=True)
    h, i, layers = 2048, 8192, 16
    # per layer: two norms keep bf16 input + fp32 rstd (2h + 4) instead of fp32 input (4h); SwiGLU drops SiLU(gate) (2i)
    saved_per_layer = 2 * (4 * h - (2 * h + 4)) + 2 * i
    final_norm_saved = 4 * h - (2 * h + 4)
    assert plain.activations - liger.activations == pytest.approx(tokens * (layers * saved_per_layer + final_norm_saved) / GIB)
    assert (liger.weights, liger.logits) == (plain.weights, plain.logits)


def test_packed_rows_hold_about_a_batch_of_real_tokens():
    assert packed_rows([200] * 10, batch_size=8, max_length=2048) == 1  # 1,600 tokens: one row
    assert packed_rows([1000] * 10, batch_size=8, max_length=2048) == 4
    assert packed_rows([5000] * 3, batch_size=2, max_length=2048) == 2  # truncated to max_length
    assert packed_rows([], batch_size=4, max_length=512) == 4


def test_padding_free_estimates_real_tokens_not_the_longest_example_times_the_batch():
    # Short chats with one long outlier: padded, every step is sized by the outlier
    lengths = [150] * 99 + [2048]
    padded = local_estimate(LLAMA_1B, model="m", train_tokens=lengths, batch_size=8, max_length=2048, gpu=H100,
                            method="lora", gradient_checkpointing=False)  # fmt: skip
    packed = local_estimate(LLAMA_1B, model="m", train_tokens=lengths, batch_size=8, max_length=2048, gpu=H100,
                            method="lora", gradient_checkpointing=False, packing=True)  # fmt: skip
    # 8 x 2,048 padded tokens against one packed row of 2,048
    assert padded.memory.activations == pytest.approx(8 * packed.memory.activations)
    assert packed.memory.total < padded.memory.total

