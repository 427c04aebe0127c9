"""A run's event stream, keyed by step: a resumed run supersedes the metrics after its checkpoint.

These functions need no run folder: `RunFolder` applies them to events.jsonl, and whoever tails
that file on its own (the guide's offset reader) applies the same ones, so both agree on which lines
are events, which metrics stand, and what `status --json` summarizes.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from tuneui.core.backend import Event

LARGEST_MEASURE = 1e15  # no loss, speed or clock gets near; plotting beyond it overflows plotext's axes


def is_event(raw: Any) -> bool:
    """Is a parsed line of events.jsonl an event? Lines that are not are skipped and get no seq."""
    return isinstance(raw, dict) and isinstance(raw.get("type"), str) and isinstance(raw.get("data", {}), dict)


def summarize_metrics(events: Iterable[Event]) -> dict[str, Any]:
    """The `metrics` object of `status --json`: steps, first/last train loss, last/best valid loss."""
    summary: dict[str, Any] = {
        "steps": 0,
        "first_train_loss": None,
        "last_train_loss": None,
        "last_valid_loss": None,
        "best_valid_loss": None,
        "best_step": None,
    }
    for event in events:
        if event.type != "metrics":
            continue
        data: Mapping[str, Any] = event.data
        step = data.get("step")
        if isinstance(step, int) and step > summary["steps"]:
            summary["steps"] = step
        train = measured(data.get("train_loss"))
        if train is not None:
            if summary["first_train_loss"] is None:
                summary["first_train_loss"] = train
            summary["last_train_loss"] = train
        valid = measured(data.get("valid_loss"))
        if valid is not None:
            summary["last_valid_loss"] = valid
            if summary["best_valid_loss"] is None or valid < summary["best_valid_loss"]:
                summary["best_valid_loss"] = valid
                summary["best_step"] = step
    return summary


def without_superseded(events: list[Event]) -> list[Event]:
    """`events` (a run's, in file order) less the metrics a later event replaces: each step once,
    the latest. Whoever reads events.jsonl on its own (a tail from an offset) applies this too.

    A resume from step S (its `status` event carries `resumed_from_step`) trains S+1.. again, so the
    metrics the killed worker had logged past S are replaced by the new ones, not shown beside them.
    """
    dropped: set[int] = set()
    floor = math.inf
    seen: set[tuple[int, str]] = set()
    for event in reversed(events):
        resumed = event.data.get("resumed_from_step") if event.type == "status" else None
        if isinstance(resumed, int):
            floor = min(floor, resumed)
        if event.type != "metrics" or not isinstance(event.data.get("step"), int):
            continue
        key = (event.data["step"], "valid" if "valid_loss" in event.data else "train")
        if key[0] > floor or key in seen:
            dropped.add(event.seq)
        seen.add(key)
    return [event for event in events if event.seq not in dropped] if dropped else events


def measured(value: Any) -> float | None:
    """A number a run can have logged (a loss, a speed, a clock), else None: text, NaN, infinity or a
    magnitude nothing reaches (a damaged events.jsonl, a provider's odd field) counts for nothing."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and abs(value) < LARGEST_MEASURE:
        return float(value)
    return None


def step_count(value: Any) -> int | None:
    """A step number or total as a run logs it (a positive whole number), else None."""
    return value if type(value) is int and value > 0 else None
