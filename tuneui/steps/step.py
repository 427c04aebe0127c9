"""What a step is to the guide: the `Step` protocol a row of `tuneui.steps.step_table` names.

A step says what it reads of the workspace on each poll (`facts`), when it can start (`ready`),
when it is done, running or needs attention, what the guide asks when it is next (`question`), what
its command does (`start`), how it runs (`run`), what the guide asks once it has run (`after`) and
what the headless demo gets from it (`headless`). Its card and view are named in its row. The state,
the machine, the runner and the demo read steps only through this, so a new step is its own
modules plus one row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Hashable, Mapping, Protocol

if TYPE_CHECKING:
    from tuneui.core.workspace import Workspace

# The state and the runner import the step table, which names steps: a step is handed them, typed
# here by name only, so this module imports neither.
WorkspaceState = Any  # tuneui.guide.state.WorkspaceState
StepRunner = Any  # tuneui.guide.runner.StepRunner


@dataclass(frozen=True)
class StepResult:
    """How a step's run ended: its command's JSON (`data`), a sentence, or what failed and the fix."""

    ok: bool
    data: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""
    title: str = ""
    hint: str = ""


@dataclass(frozen=True)
class Question:
    """What the guide asks, with its answers as (label, command typed when chosen)."""

    text: str
    choices: tuple[tuple[str, str], ...] = ()
    says: tuple[str, ...] = ()  # said before the question (a warning, a fact)


@dataclass(frozen=True)
class Start:
    """What the step's command does: an action to carry out, or (`action` empty) why it cannot."""

    says: str
    action: str = ""
    argument: str = ""


class Step(Protocol):
    def facts(self, workspace: Workspace) -> Hashable: ...
    def ready(self, state: WorkspaceState) -> bool: ...
    def done(self, state: WorkspaceState) -> bool: ...
    def running(self, state: WorkspaceState) -> bool: ...
    def attention(self, state: WorkspaceState) -> bool: ...
    def question(self, state: WorkspaceState, workspace: Workspace) -> Question | None: ...
    def start(self, state: WorkspaceState, argument: str) -> Start | None: ...
    def run(self, runner: StepRunner, argument: str) -> StepResult: ...
    def after(self, result: StepResult, state: WorkspaceState) -> Question | None: ...
    def headless(self, runner: StepRunner) -> Mapping[str, Any] | None: ...


class BaseStep:
    """Defaults for every hook: a step overrides what it has."""

    def facts(self, workspace: Workspace) -> Hashable:
        return None

    def ready(self, state: WorkspaceState) -> bool:
        return True

    def done(self, state: WorkspaceState) -> bool:
        return False

    def running(self, state: WorkspaceState) -> bool:
        return False

    def attention(self, state: WorkspaceState) -> bool:
        return False

    def question(self, state: WorkspaceState, workspace: Workspace) -> Question | None:
        return None  # None: the machine's own question for this step, if it has one

    def start(self, state: WorkspaceState, argument: str) -> Start | None:
        return None  # None: the machine's own handling of the command

    def run(self, runner: StepRunner, argument: str) -> StepResult:
        return StepResult(False, title="This step has nothing to run")

    def after(self, result: StepResult, state: WorkspaceState) -> Question | None:
        return None

    def headless(self, runner: StepRunner) -> Mapping[str, Any] | None:
        return None  # None: the demo runs it itself or leaves it out
