"""The train/validation split: deterministic for a seed, stratified for labels, duplicates kept together."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Sequence

from tuneui.core.dataset.audit import normalize, prompt_key
from tuneui.core.dataset.model import Example
from tuneui.core.dataset.tasktype import detect_task_type
from tuneui.core.dataset.writer import write_chat_jsonl
from tuneui.errors import TuneError

MIN_TRAIN = 10  # OpenAI's minimum for a fine-tuning file
MIN_VAL = 1


class SplitError(TuneError):
    """The data cannot be split as asked: too few examples for a useful training or validation set."""

    exit_code = 1


@dataclass(frozen=True)
class Split:
    train: tuple[Example, ...]
    val: tuple[Example, ...]
    stratified: bool  # True when each answer label is held out in proportion


def split(examples: Sequence[Example], val_fraction: float = 0.15, seed: int = 0) -> Split:
    """Hold out about `val_fraction` of the examples, the same ones for the same seed and data.

    Examples with the same prompt (duplicates, contradictions) form one group and land in the same
    split, so validation never grades what training already showed. When the answers are a small
    label set, every label is held out in proportion. Both splits keep the file's order.
    """
    if not 0 < val_fraction < 1:
        raise TuneError(f"The validation share must be between 0 and 1, not {val_fraction}", "Try --val 0.15.")
    groups: dict[int, list[int]] = {}
    for position, example in enumerate(examples):
        groups.setdefault(prompt_key(example), []).append(position)
    rng = random.Random(seed)
    stratified = detect_task_type(examples) == "classification"
    if stratified:
        strata: dict[str, list[list[int]]] = {}
        for members in groups.values():
            strata.setdefault(normalize(examples[members[0]].answer), []).append(members)
        held_out = [p for label in sorted(strata) for p in _hold_out(strata[label], val_fraction, rng)]
        # Labels too rare to hold out in proportion: a plain random split beats an empty one.
        stratified = bool(held_out)
    if not stratified:
        held_out = _hold_out(list(groups.values()), val_fraction, rng)
    val_positions = set(held_out)
    train = tuple(e for p, e in enumerate(examples) if p not in val_positions)
    val = tuple(e for p, e in enumerate(examples) if p in val_positions)
    _refuse_if_too_small(len(examples), len(train), len(val), val_fraction)
    return Split(train, val, stratified)


def write_split(result: Split, train_path: str | os.PathLike[str], val_path: str | os.PathLike[str]) -> None:
    """Write both files as OpenAI chat JSONL; each write is atomic."""
    write_chat_jsonl(train_path, result.train)
    write_chat_jsonl(val_path, result.val)


def _hold_out(groups: list[list[int]], val_fraction: float, rng: random.Random) -> list[int]:
    """Whole groups, in a seeded random order, until the stratum's share is reached."""
    wanted = round(sum(len(group) for group in groups) * val_fraction)
    rng.shuffle(groups)
    chosen: list[int] = []
    for group in groups:
        if len(chosen) >= wanted:
            break
        chosen.extend(group)
    return chosen


def _refuse_if_too_small(total: int, train: int, val: int, val_fraction: float) -> None:
    if val < MIN_VAL:
        raise SplitError(
            f"{total} examples at a {val_fraction:.0%} validation share leave no validation example",
            "Add examples, or raise the share with --val (with few examples, 0.2-0.3).",
        )
    if train < MIN_TRAIN:
        raise SplitError(
            f"The split would leave {train} training examples; fine-tuning needs at least {MIN_TRAIN}",
            f"Add examples (you have {total}), or lower the share with --val.",
        )
