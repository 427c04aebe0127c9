"""Pilot tests: the guide's flow through the app, the keys, reattaching to runs. State first."""

from __future__ import annotations

import pytest

from pathlib import Path

from tuneui.app import TuneApp, create_app
from tuneui.widgets.cards import CardView
from tuneui.widgets.conversation import Conversation
from tuneui.widgets.steps import StepList

from .conftest import examples, write_imported, write_run
from .scripted import ScriptedRunner

SMALL = (80, 24)


def _said(app: TuneApp) -> str:
    conversation = app.screen_stack[0].query_one(Conversation)
    return "\n".join(str(child.render()) for child in conversation.children if not isinstance(child, CardView))


def _sidebar(app: TuneApp) -> str:
    return str(app.screen_stack[0].query_one(StepList).render())


async def _settle(pilot, app: TuneApp) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_sidebar_names_the_five_steps_with_a_state_each(project) -> None:
    app = create_app(project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        sidebar = _sidebar(app)
        for name in ("Baseline", "Dataset", "Cost", "Train", "Evaluate"):
            assert name in sidebar
        assert "next" in sidebar
        assert "Where are your examples" in _said(app)


async def test_walk_dataset_baseline_cost_train_by_keyboard(project) -> None:
    write_imported(project, examples(25), name="all.jsonl")
    app = create_app(project)
    runner = ScriptedRunner(project)
    app.runner = runner
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert "Check the examples" in _said(app)
        await pilot.press("1", "enter")
        await _settle(pilot, app)
        cards = app.screen.query(CardView)
        assert cards and "2 warnings" in cards.last().card.title
        assert ("4", "warning", "duplicate", "Same request and answer as line 2.") in cards.last().card.rows
        await pilot.press("y", "e", "s", "enter")
        await _settle(pilot, app)
        assert runner.calls == ["check", "split"]
        assert "Split: 20 to train on, 5 held out" in _said(app)
        await pilot.press("1", "enter")
        await _settle(pilot, app)
        assert app.screen.query(CardView).last().card.title == "Baseline to beat: 3-shot"
        await pilot.press("1", "enter")
        await _settle(pilot, app)
        assert app.screen.query(CardView).last().card.title == "Training cost by backend"
        await pilot.press("1", "enter")
        await _settle(pilot, app)
        assert runner.calls == ["check", "split", "baseline", "cost", "train"]
        assert type(app.screen).__name__ == "TrainScreen", "a started run opens the Train view"
        await pilot.press("escape")
        await pilot.pause()
        sidebar = _sidebar(app)
        assert "running" in sidebar
        assert sidebar.count("done") == 3


async def test_choice_buttons_work_with_the_mouse_too(project) -> None:
    write_imported(project, examples(25), name="all.jsonl")
    app = create_app(project)
    app.runner = ScriptedRunner(project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        await pilot.click(".choice")
        await _settle(pilot, app)
        assert app.runner.calls == ["check"]


async def test_function_keys_open_each_view_and_escape_comes_back(finished_project) -> None:
    app = create_app(finished_project)
    async with app.run_test(size=SMALL) as pilot:
        for key, name in (("f2", "DatasetScreen"), ("f3", "CostScreen"), ("f4", "TrainScreen"), ("f5", "EvaluateScreen"), ("f6", "ChatScreen")):
            await pilot.press(key)
            await pilot.pause()
            assert type(app.screen).__name__ == name
            await pilot.press("escape")
            await pilot.pause()
            assert type(app.screen).__name__ == "MainScreen"


async def test_every_view_is_in_the_command_palette(project) -> None:
    app = create_app(project)
    async with app.run_test(size=SMALL) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for expected in ("Open Dataset", "Open Cost", "Open Train", "Open Evaluate", "Open Chat", "/baseline", "/eval"):
            assert expected in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Open Cost")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "CostScreen"


async def test_start_reattaches_to_a_running_run_and_notices_it_finish(project) -> None:
    write_imported(project, examples(25), name="all.jsonl")
    folder = write_run(project, status="running")
    app = TuneApp(project, poll_seconds=0.1)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert f"Run {folder.run_id} is still running; I reattached" in _said(app)
        assert "running" in _sidebar(app)
        folder.write_status(status="succeeded")
        await pilot.pause(0.4)
        assert f"Run {folder.run_id} succeeded after 15 steps." in _said(app)


async def test_a_project_folder_without_tuneui_toml_is_a_clear_error(tmp_path: Path) -> None:
    from tuneui.core.workspace import Workspace
    from tuneui.errors import WorkspaceError

    try:
        create_app(Workspace(tmp_path))
    except WorkspaceError as exc:
        assert "tuneui init" in exc.hint and "tuneui demo" in exc.hint
    else:
        raise AssertionError("expected a WorkspaceError")


@pytest.mark.integration
async def test_real_steps_check_split_and_cost_through_their_commands(project) -> None:
    lines = examples(24) + [examples(1)[0]]  # the last line repeats the first: a duplicate
    write_imported(project, lines, name="all.jsonl")
    app = create_app(project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("1", "enter")
        await _settle(pilot, app)
        findings = app.screen.query(CardView).last().card
        assert findings.kind == "findings"
        assert ("25", "warning", "duplicate") == findings.rows[0][:3]
        await pilot.press("1", "enter")
        await _settle(pilot, app)
        assert project.train_file.is_file() and project.val_file.is_file()
        assert "Next: Baseline" in _said(app)
        await pilot.press(*"/cost", "enter")
        await _settle(pilot, app)
        costs = app.screen.query(CardView).last().card
        openai = next(row for row in costs.rows if row[0] == "openai")
        assert openai[2].startswith("$") and "prices as of" in openai[3]
        assert (project.reports_dir / "cost.json").is_file()
        assert "Cost" in _sidebar(app) and _sidebar(app).count("done") == 2


async def test_a_step_that_breaks_becomes_a_message_not_a_crash(project) -> None:
    write_imported(project, examples(25), name="all.jsonl")

    class BrokenRunner(ScriptedRunner):
        def check(self):
            raise RuntimeError("disk on fire")

    app = create_app(project)
    app.runner = BrokenRunner(project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("1", "enter")
        await _settle(pilot, app)
        assert "That did not work: check failed unexpectedly: RuntimeError: disk on fire" in _said(app)
        assert "TUNEUI_DEBUG=1" in _said(app)
        assert app.is_running and app.busy is None, "the next step can start"


async def test_a_hosted_run_is_followed_at_the_provider_until_it_ends(project, monkeypatch) -> None:
    import tuneui.core.providers
    from tuneui.core.backend import Event

    folder = write_run(project, status="running", backend="openai")
    asked: list[str] = []

    class Provider:
        poll_seconds = 0.05

        def status(self, run_id: str):
            asked.append(run_id)
            folder.append_events([Event("metrics", {"step": 20 + len(asked), "train_loss": 1.0}, 2000.0, id=f"e{len(asked)}")])
            if len(asked) >= 3:
                folder.write_status(status="succeeded")
            return folder.job_status()

    monkeypatch.setattr(tuneui.core.providers, "get_backend", lambda name, workspace: Provider())
    app = TuneApp(project, poll_seconds=0.05)
    async with app.run_test(size=SMALL) as pilot:
        for _ in range(40):
            await pilot.pause(0.05)
            if "succeeded" in _said(app):
                break
        assert asked[:3] == [folder.run_id] * 3
        assert f"Run {folder.run_id} succeeded after 23 steps." in _said(app)
