"""What the workspace says about the steps: read from files only, cheap enough to poll.

No Textual here and no ML stack: the guide and the headless demo both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Hashable, Literal

from tuneui.core.backend import TERMINAL_STATES, BackendError, Event
from backends.run_events import step_count, summarize_metrics, without_superseded
from backends.runs import RunFolder, list_runs
from tuneui.core.workspace import Workspace
from tuneui.steps import step_table
from tuneui.steps.cost import cost_report_path
from tuneui.guide.watch import CachedFile, EventTail

StepState = Literal["todo", "next", "running", "done", "attention"]
DAMAGED = "damaged"  # a run whose files tuneui cannot read: listed with its problem, never followed


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    backend: str
    status: str
    steps: int
    total_steps: int | None
    evaluated: bool
    error: str = ""  # what ended a failed run, in the backend's (or the provider's) words
    problem: str = ""  # why a damaged run cannot be read

    @property
    def active(self) -> bool:
        return self.status not in TERMINAL_STATES and self.status != DAMAGED


@dataclass(frozen=True)
class WorkspaceState:
    """A snapshot of the project folder; `next_step` is where the guide leads."""

    imported: tuple[str, ...]
    train_examples: int
    val_examples: int
    baseline_saved: bool
    cost_saved: bool
    runs: tuple[RunSummary, ...]
    facts: tuple[tuple[str, Hashable], ...] = ()  # what each step's `facts` read, by step name

    def fact(self, step: str) -> Hashable:
        return dict(self.facts).get(step)

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
        """The first step of the table that is ready and not done (or still running)."""
        for row in step_table.STEPS:
            step = step_table.behaviour(row)
            if step.ready(self) and (step.running(self) or not step.done(self)):
                return row.name
        return None

    def step_states(self) -> dict[str, StepState]:
        states: dict[str, StepState] = {}
        for row in step_table.STEPS:
            step = step_table.behaviour(row)
            states[row.name] = "done" if step.done(self) else "todo"
            if step.running(self):
                states[row.name] = "running"
            elif step.attention(self):
                states[row.name] = "attention"
        upcoming = self.next_step
        if upcoming and states[upcoming] == "todo":
            states[upcoming] = "next"
        return states


def observe(workspace: Workspace) -> WorkspaceState:
    """The workspace as it is now, read afresh (the app's poll keeps a `WorkspaceWatch` instead)."""
    return WorkspaceWatch(workspace).poll()


class RunWatch:
    """One run followed across polls: its status file is stat'ed, its events read on from where
    the last poll stopped, and a finished run's events are not read again unless it restarts."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder
        self.tail: EventTail | None = EventTail(folder.events_path)
        self.status = CachedFile(folder.status_path, lambda _: folder.read_status())
        self.evaluated = CachedFile(folder.eval_dir, _has_files)
        self.final_events = CachedFile(folder.events_path, lambda _: folder.read_events())  # read if shown
        self.spec_backend = ""
        self._counts: tuple[int, int | None] = (0, None)  # steps and total steps, from the events
        self._counted = (0, 0)  # the tail's restarts and how many of its events are in `_counts`

    def refresh(self) -> RunSummary:
        try:
            status = self.status.value()
            if not self.spec_backend:
                self.spec_backend = str(self.folder.read_spec().backend)
        except BackendError as exc:  # hand-edited, truncated or overwritten: listed, never fatal
            return RunSummary(self.folder.run_id, self.spec_backend or "?", DAMAGED, 0, None, False, problem=exc.title)
        word = str(status.get("status", "queued"))
        if self.tail is None and word not in TERMINAL_STATES:  # resumed: follow its events again
            self.tail, self._counted = EventTail(self.folder.events_path), (0, 0)
            self._counts = (0, None)
        if self.tail is not None:
            self._take_in_events(self.tail)
        steps, total = self._counts
        if word in TERMINAL_STATES:
            self.tail = None  # its events are final: keep the summary, not 3,000 events per run
        return RunSummary(
            run_id=self.folder.run_id,
            backend=str(status.get("backend") or self.spec_backend),
            status=word,
            steps=steps,
            total_steps=total,
            evaluated=self.evaluated.value(),
            error=str(status.get("error") or ""),
        )

    def _take_in_events(self, tail: EventTail) -> None:
        """Fold only the events appended since the last poll into the counts (all of them again
        when the file was rewritten): a running run costs what it logged, not its whole history."""
        tail.read()
        restarts, counted = self._counted
        if restarts != tail.restarts:
            self._counts, counted = (0, None), 0
        added = tail.events[counted:]
        if added:
            steps, total = self._counts
            steps = max(steps, int(summarize_metrics(added)["steps"] or 0))
            self._counts = steps, _total_steps(added) or total
        self._counted = (tail.restarts, len(tail.events))

    def events(self) -> list[Event]:
        """Every event of the run: the followed ones (each metric step once, as `read_events` gives
        them: a resume supersedes what it trains again), or (finished) read once when first asked for."""
        return without_superseded(list(self.tail.events)) if self.tail is not None else self.final_events.value()


class WorkspaceWatch:
    """The state of a workspace across polls, each poll reading only the files that changed."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.runs: dict[str, RunWatch] = {}
        self.version = 0  # goes up whenever the state differs from the previous poll's
        self._train = CachedFile(workspace.train_file, _count_lines)
        self._val = CachedFile(workspace.val_file, _count_lines)
        self._baseline = CachedFile(workspace.baseline_dir, _has_files)
        self._state: WorkspaceState | None = None

    def poll(self) -> WorkspaceState:
        folders = list_runs(self.workspace.runs_dir)
        for folder in folders:
            if folder.run_id not in self.runs:
                self.runs[folder.run_id] = RunWatch(folder)
        state = WorkspaceState(
            imported=self.workspace.imported_files(),
            train_examples=self._train.value(),
            val_examples=self._val.value(),
            baseline_saved=self._baseline.value(),
            cost_saved=cost_report_path(self.workspace).is_file(),
            runs=tuple(self.runs[folder.run_id].refresh() for folder in folders),
            facts=_facts(self.workspace),
        )
        if state != self._state:
            self.version += 1
        self._state = state
        return state

    def events(self, run_id: str) -> list[Event]:
        watch = self.runs.get(run_id)
        return watch.events() if watch is not None else RunFolder(self.workspace.run_dir(run_id)).read_events()


def _facts(workspace: Workspace) -> tuple[tuple[str, Hashable], ...]:
    """What each step reads of the workspace for its own state (a step with no `facts` reads nothing)."""
    found = ((row.name, step_table.behaviour(row).facts(workspace)) for row in step_table.STEPS)
    return tuple((name, value) for name, value in found if value is not None)


def _total_steps(events: list[Event]) -> int | None:
    for event in reversed(events):
        total = step_count(event.data.get("total_steps")) if event.type == "metrics" else None
        if total is not None:
            return total
    return None


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return 0


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(path.is_file() for path in folder.rglob("*"))
