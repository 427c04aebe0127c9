"""The memory plan of a local run: quantize or not, checkpoint activations or not.

The decision is the Cost step's estimate (`tuneui.core.cost.local_estimate`), so what the Cost
step promised is what training does. Standard library only: the UI imports this without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from tuneui.core.cost import find_model_config, local_estimate
from tuneui.errors import TuneError

if TYPE_CHECKING:
    from backends.base import TrainSpec
    from tuneui.core.gpu import Gpu

DEFAULT_BATCH_SIZE = 4
QUANTIZATION_OF_METHOD = {"qlora": "nf4", "lora": "none"}


@dataclass(frozen=True)
class MemoryPlan:
    """How the worker trains a model on this machine, and what that is expected to need."""

    quantization: str  # "nf4" (QLoRA) or "none" (bf16 LoRA on GPU, fp32 on CPU)
    gradient_checkpointing: bool
    memory_gib: float | None
    fits: bool | None  # None on a CPU-only machine: system memory is not planned for


def model_config(model: str, project: Path | None = None) -> dict[str, Any] | None:
    """The model's config.json (folder, Hugging Face cache, or hub when online); None when absent."""
    try:
        return find_model_config(model, project)
    except TuneError:
        return None


def plan_memory(
    config: Mapping[str, Any] | None,
    spec: "TrainSpec",
    gpu: "Gpu | None",
    train_tokens: Sequence[int] = (),
    *,
    packing: bool = False,
    liger: bool = False,
) -> MemoryPlan:
    """The first plan that fits, in the order bf16 LoRA, + checkpointing, QLoRA, + checkpointing.

    `spec.options` may force `quantization` ("nf4" / "none") and `gradient_checkpointing`;
    `packing` and `liger` are the kernels the run uses (they change the activations).
    """
    options = spec.options or {}
    forced_quantization = options.get("quantization")
    forced_checkpointing = options.get("gradient_checkpointing")
    if gpu is None:
        # On a CPU the estimator has no device memory to plan against; fp32 LoRA is simplest.
        return MemoryPlan(forced_quantization or "none", bool(forced_checkpointing), None, None)
    if config is None:
        # Unknown size: the plan that fits the most.
        return MemoryPlan(forced_quantization or "nf4", True if forced_checkpointing is None else bool(forced_checkpointing), None, None)
    method = {"nf4": "qlora", "none": "lora"}.get(forced_quantization) if forced_quantization else None
    estimate = local_estimate(
        config,
        model=spec.model,
        train_tokens=train_tokens,
        batch_size=spec.batch_size or DEFAULT_BATCH_SIZE,
        max_length=spec.max_length,
        lora_rank=spec.lora_r,
        lora_dropout=spec.lora_dropout,
        gpu=gpu,
        method=method,
        gradient_checkpointing=forced_checkpointing,
        packing=packing,
        liger=liger,
    )
    return MemoryPlan(
        QUANTIZATION_OF_METHOD[estimate.method], estimate.gradient_checkpointing, estimate.memory.total, estimate.fits
    )
