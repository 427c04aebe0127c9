"""Dataset statistics: counts, token distributions overall and per role, and how many examples to aim for."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from tuneui.core import tokens as token_counts
from tuneui.core.dataset.model import Example
from tuneui.core.dataset.tasktype import detect_task_type

# The size guidance of OpenAI's and others' fine-tuning guides: (low, high, what it is for).
SIZE_GUIDANCE = {
    "style": (50, 100, "style and tone (a voice, a format of reply)"),
    "automation": (100, 500, "simple automation (classification, extraction, strict formats)"),
    "knowledge": (500, 1000, "complex knowledge and reasoning"),
}
TASK_CATEGORY = {"classification": "automation", "json": "automation", "freetext": "style"}
RETRIEVAL_NOTE = "Facts that change (prices, policies, stock) belong in retrieval, not in training: a tuned model cannot unlearn them."
ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class Distribution:
    min: int
    max: int
    mean: float
    median: float
    p5: float
    p95: float

    @classmethod
    def of(cls, values: Sequence[int]) -> "Distribution":
        if not values:
            return cls(0, 0, 0.0, 0.0, 0.0, 0.0)
        ordered = sorted(values)
        return cls(
            ordered[0], ordered[-1], round(statistics.fmean(ordered), 1), float(statistics.median(ordered)),
            _percentile(ordered, 5), _percentile(ordered, 95),
        )


@dataclass(frozen=True)
class Guidance:
    category: str  # a key of SIZE_GUIDANCE
    low: int
    high: int
    message: str


@dataclass(frozen=True)
class DatasetStats:
    examples: int
    with_system: int
    multi_turn: int  # examples with more than one user turn
    task_type: str
    encoding: str
    total_tokens: int
    tokens: Distribution  # per example, the cookbook's convention (what OpenAI bills per epoch)
    by_role: dict[str, Distribution]  # per example, the tokens of that role's messages
    guidance: Guidance

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["size_guidance"] = {key: {"low": low, "high": high, "for": label} for key, (low, high, label) in SIZE_GUIDANCE.items()}
        data["retrieval_note"] = RETRIEVAL_NOTE
        return data


def stats(examples: Sequence[Example], encoding: str = token_counts.DEFAULT_ENCODING) -> DatasetStats:
    """Counts and exact token distributions of `examples` (counted with `encoding`)."""
    per_example = token_counts.count_examples([example.messages for example in examples], encoding)
    by_role = _tokens_by_role(examples, encoding)
    task_type = detect_task_type(examples)
    return DatasetStats(
        examples=len(examples),
        with_system=sum(1 for example in examples if example.system is not None),
        multi_turn=sum(1 for example in examples if sum(m.get("role") == "user" for m in example.messages) > 1),
        task_type=task_type,
        encoding=encoding,
        total_tokens=sum(per_example),
        tokens=Distribution.of(per_example),
        by_role={role: Distribution.of(values) for role, values in by_role.items() if values},
        guidance=size_guidance(len(examples), task_type),
    )


def size_guidance(count: int, task_type: str) -> Guidance:
    """Where `count` examples stand against the usual range for this kind of task."""
    category = TASK_CATEGORY.get(task_type, "style")
    low, high, label = SIZE_GUIDANCE[category]
    if count < low:
        verdict = f"aim for at least {low}; {count:,} may not move the model much"
    elif count <= high:
        verdict = f"{count:,} is in that range"
    else:
        verdict = f"{count:,} is above it: quality matters more than adding more"
    message = f"For {label}, {low}-{high:,} examples is typical: {verdict}."
    if task_type == "freetext":
        # Free text may be a voice or deep knowledge; the data alone cannot tell which.
        knowledge_low, knowledge_high, knowledge = SIZE_GUIDANCE["knowledge"]
        message += f" For {knowledge}, {knowledge_low}-{knowledge_high:,}+."
    return Guidance(category, low, high, message)


def _tokens_by_role(examples: Sequence[Example], encoding: str) -> dict[str, list[int]]:
    # Each message counted alone: its 3 framing tokens and its text, without the example's reply priming.
    flat = [(position, message) for position, example in enumerate(examples) for message in example.messages]
    counts = token_counts.count_examples([[message] for _, message in flat], encoding)
    sums: list[dict[str, int]] = [{} for _ in examples]
    for (position, message), count in zip(flat, counts):
        role = str(message.get("role"))
        sums[position][role] = sums[position].get(role, 0) + count - token_counts.TOKENS_PER_REPLY
    return {role: [totals[role] for totals in sums if role in totals] for role in ROLES}


def _percentile(ordered: Sequence[int], percent: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default), without numpy."""
    rank = (len(ordered) - 1) * percent / 100
    low, high = math.floor(rank), math.ceil(rank)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))
