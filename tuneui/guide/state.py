"""What the workspace says about the five steps: read from files only, cheap enough to poll.

No Textual here and no ML stack: the guide and the headless demo both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from backends.base import TERMINAL_STATES
from backends.runs import list_runs
from tuneui.core.workspace import Workspace
from tuneui.guide.step_table import BASELINE, COST, DATASET, EVALUATE, STEP_NAMES, TRAIN
from tuneui.steps.cost import cost_report_path

StepState = Literal["todo", "next", "running", "done", "attention"]
DATA_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    backend: str
    status: str
    steps: int
    total_steps: int | None
    evaluated: bool

    @property
    def active(self) -> bool:
        return self.status not in TERMINAL_STATES


@dataclass(frozen=True)
class WorkspaceState:
    """A snapshot of the project folder; `next_step` is where the guide leads."""

    imported: tuple[str, ...]
    train_examples: int
    val_examples: int
    baseline_saved: bool
    cost_saved: bool
    runs: tuple[RunSummary, ...]

    @property
    def split(self) -> bool:
        return self.train_examples > 0 and self.val_examples > 0

    @property
    def latest_run(self) -> RunSummary | None:
        return self.runs[-1] if self.runs else None

    @property
    def active_run(self) -> RunSummary | None:
        return next((run for run in reversed(self.runs) if run.active), None)

    @property
    def finished_run(self) -> RunSummary | None:
        """The newest run that produced a model: what Evaluate and Chat use."""
        return next((run for run in reversed(self.runs) if run.status == "succeeded"), None)

    @property
    def evaluated(self) -> bool:
        run = self.finished_run
        return bool(run and run.evaluated)

    @property
    def next_step(self) -> str | None:
        """The first step still to do. Baseline is scored on the held-out split, so a split comes first."""
        if not self.split:
            return DATASET.name
        if not self.baseline_saved:
            return BASELINE.name
        if not self.cost_saved:
            return COST.name
        if self.active_run or not self.finished_run:
            return TRAIN.name
        if not self.evaluated:
            return EVALUATE.name
        return None

    def step_states(self) -> dict[str, StepState]:
        done = {
            BASELINE.name: self.baseline_saved,
            DATASET.name: self.split,
            COST.name: self.cost_saved,
            TRAIN.name: self.finished_run is not None,
            EVALUATE.name: self.evaluated,
        }
        states: dict[str, StepState] = {}
        for name in STEP_NAMES:
            states[name] = "done" if done[name] else "todo"
        if self.active_run:
            states[TRAIN.name] = "running"
        latest = self.latest_run
        if latest and latest.status in ("failed", "cancelled") and not self.active_run:
            states[TRAIN.name] = "attention"
        upcoming = self.next_step
        if upcoming and states[upcoming] == "todo":
            states[upcoming] = "next"
        return states


def observe(workspace: Workspace) -> WorkspaceState:
    return WorkspaceState(
        imported=_imported_files(workspace),
        train_examples=_count_lines(workspace.train_file),
        val_examples=_count_lines(workspace.val_file),
        baseline_saved=_has_files(workspace.baseline_dir),
        cost_saved=cost_report_path(workspace).is_file(),
        runs=tuple(_summarize(folder) for folder in list_runs(workspace.runs_dir)),
    )


def _summarize(folder) -> RunSummary:
    status = folder.job_status()
    total = None
    for event in reversed(folder.read_events()):
        if event.type == "metrics" and event.data.get("total_steps"):
            total = int(event.data["total_steps"])
            break
    return RunSummary(
        run_id=folder.run_id,
        backend=status.backend,
        status=status.status,
        steps=int(status.metrics.get("steps") or 0),
        total_steps=total,
        evaluated=_has_files(folder.eval_dir),
    )


def _imported_files(workspace: Workspace) -> tuple[str, ...]:
    if not workspace.data_dir.is_dir():
        return ()
    split_files = {workspace.train_file.name, workspace.val_file.name}
    return tuple(
        sorted(
            path.name
            for path in workspace.data_dir.iterdir()
            if path.is_file() and path.suffix in DATA_SUFFIXES and path.name not in split_files
        )
    )


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return 0


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(path.is_file() for path in folder.rglob("*"))
