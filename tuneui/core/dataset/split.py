"""The train/validation split: deterministic for a seed, stratified for labels, duplicates kept together.

A project's split is written in generations (`publish_split`): `data/splits/<id>/` holds train.jsonl,
val.jsonl and split.json (the share and seed), and `data/current` is a link to the generation in use.
`data/train.jsonl` and `data/val.jsonl` are fixed links through `current`, so one atomic rename of
`current` switches both files and the record together: a kill at any moment leaves the old split or
the new one, never train from one and val from the other.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tuneui.core.dataset.audit import find_leakage, normalize, prompt_key
from tuneui.core.dataset.model import Example
from tuneui.core.dataset.tasktype import detect_task_type
from tuneui.core.dataset.writer import write_chat_jsonl
from tuneui.core.files import atomic_write_json, fsync_dir, remove_stale_temp_files, temp_link_name
from tuneui.errors import TuneError

MIN_TRAIN = 10  # OpenAI's minimum for a fine-tuning file
MIN_VAL = 1
SPLITS = "splits"
CURRENT = "current"
RECORD = "split.json"
FILES = ("train.jsonl", "val.jsonl")


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
    _refuse_if_too_small(len(examples), len(train), len(val), val_fraction, [len(group) for group in groups.values()])
    return Split(train, val, stratified)


def write_split(result: Split, train_path: str | os.PathLike[str], val_path: str | os.PathLike[str]) -> None:
    """Write both files as OpenAI chat JSONL; each write is atomic."""
    write_chat_jsonl(train_path, result.train)
    write_chat_jsonl(val_path, result.val)


def publish_split(data_dir: Path, result: Split, val_fraction: float, seed: int) -> None:
    """Make `result` the project's split in one step (see the module's docstring)."""
    splits = data_dir / SPLITS
    splits.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(data_dir)
    _link_files_through_current(data_dir)
    generation = splits / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    staging = generation.with_name(generation.name + ".tmp")
    staging.mkdir()
    write_split(result, staging / FILES[0], staging / FILES[1])
    record = {"val_fraction": val_fraction, "seed": seed, "train": len(result.train), "val": len(result.val), "stratified": result.stratified}
    atomic_write_json(staging / RECORD, record)
    os.rename(staging, generation)
    fsync_dir(splits)
    _point(data_dir / CURRENT, Path(SPLITS) / generation.name)
    _remove_leftovers(data_dir)


def read_split_record(data_dir: Path) -> dict[str, Any] | None:
    """The current split's split.json ({val_fraction, seed, train, val}), or None for a split not
    made by `tuneui data split` (plain files, or none)."""
    try:
        value = json.loads((data_dir / CURRENT / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def refuse_leakage(train: Sequence[Example], val: Sequence[Example], train_path: Path, val_path: Path) -> None:
    """A split whose validation examples are also in train grades what training showed: refuse it."""
    leaks = find_leakage(val, train, str(train_path))
    if leaks:
        raise SplitError(
            f"{len(leaks):,} validation example(s) of {val_path} are also in {train_path} (first at line {leaks[0].line}): "
            "the split leaks, and validation would grade what training already showed",
            "Run `tuneui data split` again to make a clean split (`tuneui data check` lists the repeats).",
        )


def _link_files_through_current(data_dir: Path) -> None:
    """Turn data/train.jsonl and data/val.jsonl into links through `current`, keeping what they hold.

    Plain files (from an older tuneui, or placed by hand) first become a generation of their own, so
    that replacing them by links one after the other never shows a mix.
    """
    files = [data_dir / name for name in FILES]
    if all(f.is_symlink() and os.readlink(f) == f"{CURRENT}/{f.name}" for f in files):
        return
    if all(f.is_file() and not f.is_symlink() for f in files):
        adopted = data_dir / SPLITS / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}-adopted"
        staging = adopted.with_name(adopted.name + ".tmp")
        staging.mkdir()
        for f in files:
            shutil.copyfile(f, staging / f.name)
        os.rename(staging, adopted)
        _point(data_dir / CURRENT, Path(SPLITS) / adopted.name)
    for f in files:
        _point(f, Path(CURRENT) / f.name)


def _point(link: Path, target: Path) -> None:
    """Make `link` a symbolic link to `target`, atomically (a new link renamed over the old name)."""
    temporary = temp_link_name(link)
    os.symlink(target, temporary)
    try:
        os.replace(temporary, link)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(link.parent)


def _remove_leftovers(data_dir: Path) -> None:
    """What a killed split leaves: temp files and links, half-written and superseded generations.

    Only temp files no live writer holds: an import writing data/all.jsonl beside this split keeps its own.
    """
    remove_stale_temp_files(data_dir)
    current = data_dir / CURRENT
    in_use = os.readlink(current) if current.is_symlink() else None
    for generation in (data_dir / SPLITS).iterdir():
        if in_use is None or Path(in_use).name != generation.name:
            shutil.rmtree(generation, ignore_errors=True)


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


def _refuse_if_too_small(total: int, train: int, val: int, val_fraction: float, group_sizes: list[int]) -> None:
    largest = max(group_sizes, default=0)
    if train < MIN_TRAIN and total - largest < MIN_TRAIN:
        # Held out, this one group leaves too little to train on: "lower the share" alone misleads.
        others = " (a smaller --val or another --seed may hold out only the other prompts)" if len(group_sizes) > 1 else ""
        raise SplitError(
            f"{largest} of the {total} examples share one prompt, and one prompt's examples stay in one split: "
            f"the split would leave {train} training examples",
            f"Vary the prompts, or remove the repeats `tuneui data check` lists{others}.",
        )
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
