"""A step is its own module plus one row of the step table: a dummy step added here, in the test,
is offered by the guide, started by its command, run by the runner and shown in the sidebar's
states, without any edit to the guide's machine, state or runner."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from tuneui.core.workspace import Workspace
from tuneui.steps import step_table
from tuneui.guide.machine import Action, Guide
from tuneui.guide.runner import StepRunner, run_action
from tuneui.guide.state import RunSummary, WorkspaceState
from tuneui.steps.step import BaseStep, Question, Start, StepResult


class PolishStep(BaseStep):
    """Ready once the tuned model is evaluated; done when the workspace holds polished.txt."""

    def facts(self, workspace: Workspace) -> bool:
        return (workspace.root / "polished.txt").is_file()

    def ready(self, state: WorkspaceState) -> bool:
        return state.evaluated

    def done(self, state: WorkspaceState) -> bool:
        return bool(state.fact("Polish"))

    def question(self, state: WorkspaceState, workspace: Workspace) -> Question:
        return Question("Next: Polish. Polish the tuned model?", (("Polish it", "/polish"), ("Not now", "/status")))

    def start(self, state: WorkspaceState, argument: str) -> Start:
        return Start("Polishing…", action="polish", argument=argument or "shiny")

    def run(self, runner: StepRunner, argument: str) -> StepResult:
        (runner.workspace.root / "polished.txt").write_text(argument, encoding="utf-8")
        return StepResult(True, {"finish": argument}, summary=f"Polished: {argument}.")


@pytest.fixture
def polish_row(monkeypatch: pytest.MonkeyPatch) -> step_table.StepInfo:
    module = types.ModuleType("polish_step_for_test")
    module.POLISH = PolishStep()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    row = step_table.StepInfo("Polish", "", "/polish", "make it shine", action="polish", step=f"{module.__name__}:POLISH")
    monkeypatch.setattr(step_table, "STEPS", (*step_table.STEPS, row))
    monkeypatch.setattr(step_table, "ROWS", (*step_table.ROWS, row))
    return row


def _evaluated_project(root: Path, polished: bool = False) -> WorkspaceState:
    return WorkspaceState(
        imported=(),
        train_examples=40,
        val_examples=10,
        baseline_saved=True,
        cost_saved=True,
        runs=(RunSummary("1", "local", "succeeded", 20, 20, evaluated=True),),
        facts=(("Export", ("1",)), ("Polish", polished)),  # run 1 is exported: every step of the table is done
    )


def test_the_guide_offers_a_step_added_as_a_module_and_a_row(polish_row: step_table.StepInfo, tmp_path: Path) -> None:
    state = _evaluated_project(tmp_path)
    guide = Guide(Workspace(tmp_path), read_state=lambda _: state)

    assert state.next_step == "Polish"
    assert state.step_states()["Polish"] == "next"
    opening = guide.opening()
    assert opening.question == "Next: Polish. Polish the tuned model?"
    assert [choice.label for choice in opening.choices] == ["Polish it", "Not now"]

    turn = guide.answer("yes")  # the first choice: its command
    assert turn.action == Action("polish", "shiny")
    assert turn.says == ("Polishing…",)


def test_the_runner_runs_the_added_step_and_the_state_reads_its_facts(polish_row: step_table.StepInfo, tmp_path: Path) -> None:
    from tuneui.guide.state import _facts

    workspace = Workspace(tmp_path)
    result = run_action(StepRunner(workspace), "polish", "matte")
    assert result.ok and result.summary == "Polished: matte."
    assert dict(_facts(workspace))["Polish"] is True

    done = _evaluated_project(tmp_path, polished=True)
    assert done.step_states()["Polish"] == "done"
    assert done.next_step is None
    guide = Guide(workspace, read_state=lambda _: done)
    assert f"All {len(step_table.STEPS)} steps are done" in guide.opening().question


def test_without_the_row_the_guide_never_mentions_it(tmp_path: Path) -> None:
    state = _evaluated_project(tmp_path)
    guide = Guide(Workspace(tmp_path), read_state=lambda _: state)
    assert "Polish" not in state.step_states()
    assert "Polish" not in guide.opening().question
