"""Where a local model lives, how big it is, and the memory plan: quantize? checkpoint activations?

Standard library only: the UI asks for estimates without importing torch, and the worker applies
the same plan, so what the Cost step promised is what training does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:
    from backends.base import TrainSpec

GIB = 1024**3
CUDA_OVERHEAD_GIB = 1.0  # CUDA context, allocator slack and kernels' workspaces
USABLE_FRACTION = 0.9  # leave room for fragmentation: a plan at 100 % fails at step 1


@dataclass(frozen=True)
class MemoryPlan:
    """How the worker trains a model on this machine, and what it is expected to need."""

    quantization: str  # "nf4" (QLoRA) or "none" (bf16 LoRA on GPU, fp32 on CPU)
    gradient_checkpointing: bool
    memory_gib: float
    fits: bool | None  # None on a CPU-only machine: system memory is not planned for
    parameters: int


def find_model_config(model: str) -> dict[str, Any] | None:
    """The model's config.json from its folder or the Hugging Face cache; None when absent."""
    folder = Path(model)
    if (folder / "config.json").is_file():
        return _read(folder / "config.json")
    hub = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", "~/.cache/huggingface")) / "hub")
    snapshots = hub.expanduser() / f"models--{model.replace('/', '--')}" / "snapshots"
    if snapshots.is_dir():
        for snapshot in sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
            if (snapshot / "config.json").is_file():
                return _read(snapshot / "config.json")
    return None


def gpu_memory_gib() -> list[float]:
    """Total memory of each visible GPU in GiB, from nvidia-smi; empty without a GPU."""
    if shutil.which("nvidia-smi") is None or os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10,
        ).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return []
    sizes = [float(line) / 1024 for line in out.split() if line.strip().replace(".", "", 1).isdigit()]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        indices = [int(d) for d in visible.split(",") if d.strip().isdigit()]
        sizes = [sizes[i] for i in indices if i < len(sizes)]
    return sizes


def parameter_counts(config: Mapping[str, Any]) -> tuple[int, int]:
    """(parameters in linear layers, all parameters) of a decoder-only transformer config."""
    text = config.get("text_config") or config
    hidden = int(text.get("hidden_size", 0))
    layers = int(text.get("num_hidden_layers", 0))
    intermediate = int(text.get("intermediate_size", 4 * hidden))
    vocab = int(text.get("vocab_size", 0))
    heads = int(text.get("num_attention_heads", 1)) or 1
    kv_heads = int(text.get("num_key_value_heads", heads)) or heads
    head_dim = int(text.get("head_dim") or hidden // heads)
    attention = hidden * head_dim * (2 * heads + 2 * kv_heads)
    mlp = 3 * hidden * intermediate
    linear = layers * (attention + mlp)
    embeddings = vocab * hidden * (1 if text.get("tie_word_embeddings", False) else 2)
    return linear, linear + embeddings


def lora_parameters(config: Mapping[str, Any], rank: int) -> int:
    """Trainable parameters of LoRA on every linear layer (q, k, v, o, gate, up, down)."""
    text = config.get("text_config") or config
    hidden = int(text.get("hidden_size", 0))
    intermediate = int(text.get("intermediate_size", 4 * hidden))
    layers = int(text.get("num_hidden_layers", 0))
    per_layer = rank * (4 * 2 * hidden + 3 * (hidden + intermediate))
    return layers * per_layer


def estimate_memory(
    config: Mapping[str, Any], spec: "TrainSpec", gpus: Sequence[float], batch_size: int = 4
) -> MemoryPlan:
    """The cheapest plan that fits: bf16 LoRA if it fits (faster), else QLoRA; checkpointing last.

    A rule of thumb, not a simulation: weights (NF4 with double quantization ~0.516 bytes per
    quantized parameter; embeddings and lm_head stay 16-bit) + LoRA optimizer state + activations
    (~34 bytes per token, hidden unit and layer in bf16 without checkpointing, ~2 with it) + fp32
    logits (vocab x 4 bytes per token, dominant for large vocabularies).
    """
    linear, total = parameter_counts(config)
    text = config.get("text_config") or config
    hidden, layers = int(text.get("hidden_size", 0)), int(text.get("num_hidden_layers", 0))
    vocab = int(text.get("vocab_size", 0))
    tokens = (spec.batch_size or batch_size) * spec.max_length
    trainable = lora_parameters(config, spec.lora_r)
    optimizer = trainable * 16  # fp32 weight + grad + two Adam moments

    def need(quantization: str, checkpointing: bool) -> float:
        weights = total * 2 if quantization == "none" else linear * 0.516 + (total - linear) * 2
        activations = tokens * hidden * layers * (2 if checkpointing else 34)
        logits = tokens * vocab * 4
        return (weights + optimizer + activations + logits) / GIB + CUDA_OVERHEAD_GIB

    forced = (spec.options or {}).get("quantization")
    forced_checkpointing = (spec.options or {}).get("gradient_checkpointing")
    if not gpus:
        quantization = forced or "none"
        checkpointing = bool(forced_checkpointing)
        return MemoryPlan(quantization, checkpointing, need(quantization, checkpointing), None, total)
    budget = min(gpus) * USABLE_FRACTION
    plans = [(q, c) for q in ("none", "nf4") for c in (False, True)]
    if forced:
        plans = [p for p in plans if p[0] == forced]
    if forced_checkpointing is not None:
        plans = [p for p in plans if p[1] == bool(forced_checkpointing)]
    for quantization, checkpointing in plans:
        if need(quantization, checkpointing) <= budget:
            return MemoryPlan(quantization, checkpointing, need(quantization, checkpointing), True, total)
    quantization, checkpointing = plans[-1]
    return MemoryPlan(quantization, checkpointing, need(quantization, checkpointing), False, total)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
