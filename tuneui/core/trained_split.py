"""Which split a run trained on, so that its evaluation never scores examples it trained on.

`data/train.jsonl` is a link to the current split, and a run's spec keeps only that link: after a
new `tuneui data split`, `tuneui eval RUN` used to score the run on a validation set that partly
held its own training examples, with no word of it. `tuneui train` now records the split in the
run's spec (`options.split`: each file's sha256, the split's share and seed), and `tuneui eval`
refuses a split that is not the one recorded. It refuses rather than warns: the numbers would be
wrong, and a report built on them would not say so.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

from tuneui.core.dataset.split import read_split_record
from tuneui.core.workspace import Workspace
from tuneui.errors import UsageError


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def split_record(workspace: Workspace, train_file: Path, val_file: Path | None) -> dict[str, Any]:
    """What `tuneui train` keeps of the split a run starts on (its spec's `options.split`)."""
    project_split = _same(train_file, workspace.train_file) and (val_file is None or _same(val_file, workspace.val_file))
    made_by = read_split_record(workspace.data_dir) if project_split else None
    return {
        "project_split": project_split,
        "train": {"file": str(train_file.resolve()), "sha256": file_sha256(train_file)},
        "val": {"file": str(val_file.resolve()), "sha256": file_sha256(val_file)} if val_file is not None else None,
        "val_fraction": (made_by or {}).get("val_fraction"),
        "seed": (made_by or {}).get("seed"),
    }


def refuse_another_split(workspace: Workspace, run_id: str, recorded: Any, val_sha256: str) -> None:
    """Stop an evaluation of run `run_id` on a split other than the one it trained on.

    Runs started before tuneui recorded splits, and runs on files of their own (--train-file),
    have nothing to compare the project's split with; they are evaluated as before.
    """
    if not isinstance(recorded, Mapping) or recorded.get("project_split") is not True:
        return
    train, val = recorded.get("train"), recorded.get("val")
    changed = []
    if isinstance(train, Mapping) and workspace.train_file.is_file() and train.get("sha256") != file_sha256(workspace.train_file):
        changed.append("data/train.jsonl")
    if isinstance(val, Mapping) and val.get("sha256") != val_sha256:
        changed.append("data/val.jsonl")
    if not changed:
        return
    share, seed = recorded.get("val_fraction"), recorded.get("seed")
    again = (
        f"`tuneui data split --val {share:g} --seed {seed}` remakes that split from the same imported data"
        if isinstance(share, (int, float)) and isinstance(seed, int)
        else "restore the split it trained on"
    )
    raise UsageError(
        f"Run {run_id} trained on another split: {' and '.join(changed)} changed since it started, so its evaluation "
        "could score examples it was trained on",
        f"To evaluate it, {again}; or train a new run on the current split.",
    )


def _same(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve()
    except (OSError, RuntimeError):
        return False
