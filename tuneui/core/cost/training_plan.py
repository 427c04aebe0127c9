"""The defaults rule of a local LoRA run: learning rate, length, LoRA shape and max length, chosen
from the model's size, the data's size and a time budget, each with its reason in words.

docs/local.md states the rule and its sources. A value the user gave (a flag or tuneui.toml) is
kept as it is; the reason then says so. Standard library only: the Cost step, `tuneui train` and
the training worker all call it, so what the Cost step shows is what the worker does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

# LoRA learning rate from the hidden size: 5e-4 x (2000 / hidden) ** 0.781, the fit of the Tinker
# cookbook (`hyperparam_utils.get_lr`, Llama family; "LoRA Without Regret", Thinking Machines,
# 2025): 2.9e-4 for an 8B model, near QLoRA's 2e-4 for 7B-13B. Capped at 1e-3, the highest rate
# measured here to win (SmolLM2-135M on the demo; 2e-4 did not beat the prompt in 40 steps).
LR_BASE = 5e-4
LR_HIDDEN_REFERENCE = 2000
LR_EXPONENT = 0.781
LR_MIN, LR_MAX = 5e-5, 1e-3
DEFAULT_LEARNING_RATE = 2e-4  # the QLoRA paper's rate, when the model's size is unknown
DEFAULT_EPOCHS = 3
# Below this many steps the warm-up and cosine schedule have no room, and a run learns little.
MIN_STEPS = 10
# Rank follows the data, not the model: LoRA's capacity runs short only on large datasets.
RANKS_BY_EXAMPLES = ((10_000, 16), (100_000, 32))
LARGE_DATA_RANK = 64
LENGTH_ROUNDING = 64


@dataclass(frozen=True)
class TrainingPlan:
    """The chosen values, and a reason for each one, in the order a person reads them."""

    learning_rate: float
    steps: int
    epochs: float
    batch_size: int
    max_length: int
    lora_r: int
    lora_alpha: int
    seconds_per_step: float | None
    reasons: tuple[str, ...]
    validation_seconds: float = 0.0  # every validation pass of the run together: part of its time

    def to_json(self) -> dict[str, Any]:
        per_step = self.seconds_per_step
        return {
            "learning_rate": self.learning_rate,
            "steps": self.steps,
            "epochs": round(self.epochs, 2),
            "batch_size": self.batch_size,
            "max_length": self.max_length,
            "lora_r": self.lora_r,
            "lora_alpha": self.lora_alpha,
            "minutes": None if per_step is None else round((self.steps * per_step + self.validation_seconds) / 60, 1),
            "reasons": list(self.reasons),
        }


def learning_rate_for(hidden_size: int | None) -> float:
    if not hidden_size:
        return DEFAULT_LEARNING_RATE
    rate = LR_BASE * (LR_HIDDEN_REFERENCE / hidden_size) ** LR_EXPONENT
    return float(f"{min(LR_MAX, max(LR_MIN, rate)):.2g}")


def rank_for(examples: int) -> int:
    return next((rank for limit, rank in RANKS_BY_EXAMPLES if examples < limit), LARGE_DATA_RANK)


def plan_training(
    *,
    hidden_size: int | None,
    train_tokens: Sequence[int],
    batch_size: int,
    max_length: int,
    budget_minutes: float,
    seconds_per_step: float | None,
    learning_rate: float | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    lora_r: int | None = None,
    lora_alpha: int | None = None,
    validation: tuple[int, float] | None = None,
) -> TrainingPlan:
    """The plan for `train_tokens` (one count per training example). `seconds_per_step` is the
    time estimate of one step (None: unknown, so the budget cannot shorten the run); `validation`
    is the run's validation passes and the seconds of each, which the budget pays for too."""
    reasons: list[str] = []
    examples = len(train_tokens)
    if learning_rate is None:
        learning_rate = learning_rate_for(hidden_size)
        size = f"hidden size {hidden_size}" if hidden_size else "an unknown size"
        reasons.append(f"learning rate {learning_rate:.2g}: LoRA's rate for a model of {size} (docs/local.md)")
    else:
        reasons.append(f"learning rate {learning_rate:.2g}: as set")
    if lora_r is None:
        lora_r = rank_for(examples)
        reasons.append(f"LoRA rank {lora_r} for {examples:,} examples")
    if lora_alpha is None:
        lora_alpha = 2 * lora_r
        reasons.append(f"LoRA alpha {lora_alpha} (2 x rank)")

    longest = max(train_tokens, default=max_length)
    fitted = min(max_length, LENGTH_ROUNDING * math.ceil(longest / LENGTH_ROUNDING))
    if fitted < max_length:
        reasons.append(f"max length {fitted} tokens: the longest example has {longest} (less padding and memory)")
    elif longest > max_length:
        reasons.append(f"max length {max_length} tokens: longer examples are truncated")
    max_length = fitted

    per_epoch = max(1, math.ceil(examples / batch_size))
    passes, each = validation or (0, 0.0)
    validation_seconds = passes * each
    if steps is not None:
        reasons.append(f"{steps} steps: as set")
    elif epochs is not None:
        steps = epochs * per_epoch
        reasons.append(f"{steps} steps: {epochs} epochs of {per_epoch} steps, as set")
    else:
        steps = DEFAULT_EPOCHS * per_epoch
        within = math.floor((budget_minutes * 60 - validation_seconds) / seconds_per_step) if seconds_per_step else None
        if within is not None and within < steps:
            steps = max(MIN_STEPS, within)
            checks = f", after {passes} validation passes of about {each:.0f} s" if validation_seconds else ""
            reasons.append(
                f"{steps} steps ({steps / per_epoch:.2g} epochs): what fits the {budget_minutes:g}-minute budget "
                f"at about {seconds_per_step:.1f} s a step{checks} ([local] time_budget_minutes)"
            )
        else:
            reasons.append(f"{steps} steps: {DEFAULT_EPOCHS} epochs of {per_epoch} steps")
    return TrainingPlan(
        learning_rate=learning_rate,
        steps=steps,
        epochs=steps / per_epoch,
        batch_size=batch_size,
        max_length=max_length,
        lora_r=lora_r,
        lora_alpha=lora_alpha,
        seconds_per_step=seconds_per_step,
        reasons=tuple(reasons),
        validation_seconds=validation_seconds if seconds_per_step else 0.0,
    )
