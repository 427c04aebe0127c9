"""The memory plan of a local run: quantize or not, checkpoint activations or not.

The decision is the Cost step's estimate (`tuneui.core.cost.local_estimate`), so what the Cost
step promised is what training does. Standard library only: the UI imports this without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from tuneui.core.cost import find_model_config, local_estimate, model_shape
from tuneui.core.cost.local import seconds_per_step, seconds_per_validation
from tuneui.core.cost.training_plan import TrainingPlan, plan_training
from tuneui.errors import TuneError

if TYPE_CHECKING:
    from tuneui.core.backend import TrainSpec
    from tuneui.core.gpu import Gpu
    from tuneui.core.settings import LocalSettings

DEFAULT_BATCH_SIZE = 4
EVALUATIONS_PER_RUN = 10  # default eval cadence: often enough to catch overfitting, cheap enough
# On a CPU an evaluation pass costs about a third of a training step per batch of val examples;
# runs there last minutes, and ten evaluations would add most of a run's time again.
CPU_EVALUATIONS_PER_RUN = 4
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


def train_token_counts(model: str, train_file: Path) -> tuple[list[int], bool]:
    """Tokens of each training example through the model's own chat template when its tokenizer
    is in the folder (exact), else o200k counts (close enough to plan with)."""
    from tuneui.core.dataset import read_chat_jsonl
    from tuneui.core.tokens import count_examples, count_with_tokenizer

    messages = [list(example.messages) for example in read_chat_jsonl(train_file)]
    if (Path(model) / "tokenizer.json").is_file():
        try:
            # The fast tokenizer class directly: AutoTokenizer imports torch, which takes seconds.
            from transformers import PreTrainedTokenizerFast

            return count_with_tokenizer(PreTrainedTokenizerFast.from_pretrained(model), messages), True
        except (ImportError, OSError, ValueError, TuneError):
            pass
    return count_examples(messages), False


def plan_local_run(
    model: str,
    config: Mapping[str, Any] | None,
    train_tokens: Sequence[int],
    local: "LocalSettings",
    gpu: "Gpu | None",
    val_tokens: Sequence[int] = (),
    **given: Any,
) -> TrainingPlan:
    """The defaults rule (tuneui.core.cost.training_plan) for this model, data and machine.

    `given` holds what the user set on the command line (learning_rate, steps, epochs, batch_size,
    max_length, lora_r, lora_alpha); tuneui.toml's [local] values come next; the rule fills the rest.
    `val_tokens` (one count per validation example) prices the run's validation passes.
    """
    shape = None
    if config is not None:
        try:
            shape = model_shape(config)
        except TuneError:
            shape = None
    batch_size = given.get("batch_size") or local.batch_size
    max_length = given.get("max_length") or local.max_length
    per_step = seconds_per_step(shape, batch_size, train_tokens, max_length, gpu, local.measured_mfu) if shape else None
    # The run's validation passes take time too: the budget pays for them before it buys steps.
    per_pass = seconds_per_validation(shape, val_tokens, max_length, gpu, local.measured_mfu) if shape else None
    passes = CPU_EVALUATIONS_PER_RUN if gpu is None else EVALUATIONS_PER_RUN
    return plan_training(
        hidden_size=shape.hidden if shape else None,
        train_tokens=train_tokens,
        batch_size=batch_size,
        max_length=max_length,
        budget_minutes=local.time_budget_minutes,
        seconds_per_step=per_step,
        learning_rate=given.get("learning_rate") or local.learning_rate,
        steps=given.get("steps"),
        epochs=given.get("epochs"),
        lora_r=given.get("lora_r") or local.lora_r,
        lora_alpha=given.get("lora_alpha") or local.lora_alpha,
        validation=(passes, per_pass) if per_pass else None,
    )
