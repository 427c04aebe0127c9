"""A session of the app survives what goes wrong around it: a run folder damaged while it is open,
a provider that fails, a worker that raises, a cancel that is refused. Each shows a title and a
hint and the app keeps running."""

from __future__ import annotations

import json

from textual.widgets import Static

import tuneui.core.providers
from tuneui.core.backend import Event
from backends.runs import RunFolder
from tuneui.app import TuneApp, create_app
from tuneui.guide.runner import StepResult
from tuneui.widgets.steps import StepList

from .conftest import examples, write_imported, write_run
from .scripted import ScriptedRunner
from .test_ui_literal import screen_text

SMALL = (80, 24)
BIG = (140, 45)


async def _settle(pilot, app) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_a_run_damaged_while_the_app_is_open_is_shown_as_damaged(project) -> None:
    folder = write_run(project, status="running")
    app = TuneApp(project, poll_seconds=0.05)
    async with app.run_test(size=BIG) as pilot:
        await pilot.pause()
        folder.status_path.write_text("{ not json", encoding="utf-8")
        await pilot.pause(0.3)
        assert app.is_running
        assert f"Run {folder.run_id} is damaged" in screen_text(app)
        assert "attention" in str(app.screen.query_one(StepList).render())
        await pilot.press("f4")
        await pilot.pause()
        title = str(app.screen.query_one("#run-title", Static).render())
        assert "damaged" in title and "status.json" in title
        folder.status_path.write_text(json.dumps({"status": "succeeded", "backend": "local"}), encoding="utf-8")
        await pilot.pause(0.3)
        assert "succeeded" in str(app.screen.query_one("#run-title", Static).render()), "restored, it is read again"


async def test_a_provider_that_breaks_while_following_a_hosted_run_is_reported(project, monkeypatch) -> None:
    folder = write_run(project, status="running", backend="openai")
    asked: list[str] = []

    class Provider:
        poll_seconds = 0.05

        def status(self, run_id: str):
            asked.append(run_id)
            if len(asked) == 1:
                raise ConnectionResetError("connection reset by peer")
            folder.append_events([Event("metrics", {"step": 30, "train_loss": 1.0}, 2000.0, id="late")])
            folder.write_status(status="succeeded")
            return folder.job_status()

    monkeypatch.setattr(tuneui.core.providers, "get_backend", lambda name, workspace: Provider())
    app = TuneApp(project, poll_seconds=0.05)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        for _ in range(40):
            await pilot.pause(0.05)
            if len(asked) >= 2:
                break
        await _settle(pilot, app)
        assert app.is_running
        messages = [note.message for note in app._notifications]
        assert any("ConnectionResetError" in message and "TUNEUI_DEBUG=1" in message for message in messages), messages
        assert len(asked) >= 2, "the run is followed again after the failure"


async def test_a_worker_that_raises_is_a_notification_not_the_end_of_the_app(project, monkeypatch) -> None:
    import tuneui.screens.dataset

    write_imported(project, examples(5), name="all.jsonl")

    def broken(path):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(tuneui.screens.dataset, "read_dataset", broken)
    app = create_app(project)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        assert app.is_running and type(app.screen).__name__ == "DatasetScreen"
        shown = screen_text(app)
        assert "RuntimeError: disk on fire" in shown
        assert "TUNEUI_DEBUG=1" in shown


async def test_a_refused_cancel_is_reported(project) -> None:
    folder = write_run(project, status="running")

    class RefusingRunner(ScriptedRunner):
        def run_command(self, args, *, expect_json=True, accept_codes=(0,)):
            self.calls.append(" ".join(args))
            return StepResult(False, title=f"Run {folder.run_id} has no live worker", hint="Resume it or remove it.")

    app = create_app(project)
    app.runner = RefusingRunner(project)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await _settle(pilot, app)
        assert app.runner.calls == [f"cancel {folder.run_id}"]
        messages = [note.message for note in app._notifications]
        assert any(m.startswith(f"Could not cancel {folder.run_id}: Run {folder.run_id} has no live worker") for m in messages)
        assert any("Resume it or remove it." in m for m in messages)


async def test_a_chat_provider_that_raises_leaves_the_chat_usable(finished_project, monkeypatch) -> None:
    class Broken:
        def stream(self, model, conversation, params=None):
            yield "half an ans"
            raise ValueError("stream ended early")

    monkeypatch.setattr(tuneui.core.providers, "get_backend", lambda name, workspace: Broken())
    app = create_app(finished_project)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        await pilot.press(*"hello", "enter")
        await _settle(pilot, app)
        assert app.is_running and type(app.screen).__name__ == "ChatScreen"
        assert "ValueError: stream ended early" in screen_text(app)
        assert not any(worker.is_running for worker in app.screen.streams.values()), "the next message can be sent"


async def test_polling_reads_only_what_changed(project, monkeypatch) -> None:
    """After the first poll, unchanged runs are only stat'ed, appended events are read from where
    the last read stopped, and a finished run's events are never read again."""
    running = write_run(project, run_id="20261123-120000-aaaa", status="running")
    write_run(project, run_id="20261123-110000-bbbb", status="succeeded")
    app = TuneApp(project, poll_seconds=60)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()

        def full_read(self, after=0):
            raise AssertionError(f"{self.run_id}: events.jsonl read again from its start")

        monkeypatch.setattr(RunFolder, "read_events", full_read)
        app.poll_workspace()
        running.events_path.open("a").write(json.dumps({"type": "metrics", "data": {"step": 20, "train_loss": 1.9}, "time": 1.0}) + "\n")
        app.poll_workspace()
        assert app.workspace_state().active_run.steps == 20
        assert app.is_running


def test_a_failure_names_tuneuis_own_errors_and_points_at_the_debug_switch_for_bugs(monkeypatch) -> None:
    from backends.runs import DamagedRunError
    from tuneui.app import failure_text

    assert failure_text(DamagedRunError("runs/R/status.json: invalid JSON", "Restore the file."), "poll") == (
        "runs/R/status.json: invalid JSON", "Restore the file.")
    try:
        raise KeyError("model_ref")
    except KeyError as exc:
        bug = exc
    monkeypatch.delenv("TUNEUI_DEBUG", raising=False)
    title, hint = failure_text(bug, "read and check the examples")
    assert title == "read and check the examples failed unexpectedly: KeyError: 'model_ref'"
    assert "TUNEUI_DEBUG=1" in hint and "Traceback" not in hint
    monkeypatch.setenv("TUNEUI_DEBUG", "1")
    assert "Traceback" in failure_text(bug, "read")[1] and "test_ui_survives.py" in failure_text(bug, "read")[1]
