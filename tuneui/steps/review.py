"""People's review of a run on disk: its pairs, read from what `tuneui eval` saved, and its votes in
`runs/<id>/eval/review.json` (the layout's seed, order and sides, then every vote in the order given).

Every vote is written at once, atomically, under a lock: two reviewers in two terminals never
lose each other's votes, and a review quit at any moment resumes where it stopped.
"""

from __future__ import annotations

import hashlib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from backends.run_locks import folder_lock
from backends.runs import RunFolder
from tuneui.core.dataset.loader import read_chat_jsonl
from tuneui.core.files import atomic_write_json, read_json
from tuneui.core.review import Layout, Pair, Vote, make_layout, new_seed, pairs_of
from tuneui.core.review_stats import HumanResult, human_result
from tuneui.core.verdict import lead_verdict
from tuneui.core.workspace import Workspace
from tuneui.errors import UsageError
from tuneui.steps.eval_files import PREDICTIONS_FILE, RESULT_FILE, REVIEW_FILE

VERSION = 1


class VoteStore:
    """`review.json` of one run: read, and changed only under its lock, one atomic write a change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = path.with_name(f".{path.name}.lock")

    def exists(self) -> bool:
        return self.path.is_file()

    def read(self) -> tuple[Layout | None, list[Vote]]:
        try:
            raw = read_json(self.path)
            if raw is None:
                return None, []
            if not isinstance(raw, dict) or raw.get("version") != VERSION:
                raise ValueError("not a review file of this version")
            layout = Layout.from_dict(raw["layout"]) if raw.get("layout") else None
            return layout, [Vote.from_dict(item) for item in raw["votes"]]
        except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"{self.path} is damaged, not the review tuneui wrote: {type(exc).__name__}: {exc}",
                "Restore it from a backup, or move it away to start the review afresh (its votes are then not counted).",
            ) from None

    def layout_for(self, pairs: Sequence[Pair], seed: int | None = None) -> Layout:
        """The stored layout when it covers exactly these pairs; else a new one, drawn from the stored
        seed (or `seed`, or a fresh one) and stored, the votes kept."""
        with self._locked():
            layout, votes = self.read()
            if layout is not None and layout.fits(pairs):
                return layout
            chosen = seed if seed is not None else layout.seed if layout is not None else new_seed()
            layout = make_layout(pairs, chosen)
            self._write(layout, votes)
            return layout

    def add(self, votes: Sequence[Vote]) -> None:
        with self._locked():
            layout, saved = self.read()
            self._write(layout, saved + list(votes))

    def undo(self, reviewer: str) -> Vote | None:
        """Remove `reviewer`'s last vote; None when they have none."""
        with self._locked():
            layout, saved = self.read()
            for position in range(len(saved) - 1, -1, -1):
                if saved[position].reviewer == reviewer:
                    taken = saved.pop(position)
                    self._write(layout, saved)
                    return taken
            return None

    def _locked(self) -> AbstractContextManager[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return folder_lock(self._lock)

    def _write(self, layout: Layout | None, votes: Sequence[Vote]) -> None:
        atomic_write_json(
            self.path,
            {"version": VERSION, "layout": layout.to_dict() if layout else None, "votes": [v.to_dict() for v in votes]},
        )


@dataclass(frozen=True)
class RunReview:
    """What a review of one run works on."""

    run_id: str
    pairs: tuple[Pair, ...]
    store: VoteStore
    variant: str  # the baseline prompt the tuned model is compared with


def store_of(run: RunFolder) -> VoteStore:
    return VoteStore(run.eval_dir / REVIEW_FILE)


def open_review(workspace: Workspace, run_id: str) -> RunReview:
    """The pairs `tuneui eval` compared for `run_id`; refused, with the fix, when there are none."""
    run = RunFolder.open(workspace.runs_dir, run_id)
    again = f"Run `tuneui eval {run_id}` (again), then review."
    result = read_saved(run.eval_dir / RESULT_FILE)
    if not result:
        raise UsageError(f"Run {run_id} has not been evaluated yet: people review what the evaluation compared", again)
    tuned_saved = read_saved(run.eval_dir / PREDICTIONS_FILE) or {}
    baseline_name = result.get("baseline_file")
    baseline_saved = read_saved(workspace.baseline_dir / Path(str(baseline_name)).name) if baseline_name else None
    tuned, baseline = tuned_saved.get("predictions"), (baseline_saved or {}).get("predictions")
    if not isinstance(tuned, list) or not isinstance(baseline, list):
        raise UsageError(f"Run {run_id}: the answers its evaluation compared are missing (eval/predictions.json, baseline/)", again)
    if not workspace.val_file.is_file() or tuned_saved.get("val_sha256") != _sha256(workspace.val_file):
        raise UsageError(f"{workspace.val_file} changed since run {run_id} was evaluated: its answers are for other examples", again)
    val = read_chat_jsonl(workspace.val_file)
    if not (len(val) == len(tuned) == len(baseline)):
        raise UsageError(f"Run {run_id}: {len(tuned)} tuned and {len(baseline)} baseline answers for {len(val)} examples", again)
    outcomes = (result.get("judge_detail") or {}).get("outcomes")
    pairs = pairs_of(val, tuned, baseline, outcomes if isinstance(outcomes, list) else None)
    return RunReview(run.run_id, pairs, store_of(run), str(result.get("baseline_variant") or "baseline"))


def human_for_run(workspace: Workspace, run_id: str) -> HumanResult | None:
    """People's result on a run's current pairs; None when nobody has reviewed it."""
    store = store_of(RunFolder(workspace.run_dir(run_id)))
    if not store.exists():
        return None
    review = open_review(workspace, run_id)
    return human_result(review.pairs, store.read()[1], seed=workspace.settings().data.seed)


def current_verdict(result: Mapping[str, Any], human: HumanResult | None) -> str:
    """The verdict of a saved evaluation with the votes as they are now (they may be newer than it)."""
    machine = str(result.get("machine_verdict") or result.get("verdict") or "")
    return lead_verdict(machine, str(result.get("baseline_variant") or "baseline"), human)


def read_saved(path: Path) -> dict[str, Any] | None:
    """A JSON object the evaluation saved; None when missing or no longer an object (as
    `tuneui.core.evalset.read_saved`, which the app cannot import: it loads the ML stack's readers)."""
    try:
        value = read_json(path)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
