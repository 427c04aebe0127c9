"""Nothing is lost by one key: deleting an example, cancelling a run and quitting over an unsaved
edit ask first; a tab typed in the editor is text; a failed chat reply is not sent back."""

from __future__ import annotations

import json
from typing import Any, Iterator

from textual.widgets import DataTable, Input, TextArea

import tuneui.core.providers
from tuneui.core.backend import BackendError
from tuneui.app import create_app

from .conftest import examples, write_imported, write_run
from .scripted import ScriptedRunner

SMALL = (80, 24)


async def _settle(pilot, app) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_deleting_an_example_asks_first(project) -> None:
    path = write_imported(project, examples(4), name="all.jsonl")
    app = create_app(project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        await pilot.press("x")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmModal"
        await pilot.press("n")
        await _settle(pilot, app)
        assert len(path.read_text().splitlines()) == 4, "answering no keeps the example"
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await _settle(pilot, app)
        assert len(path.read_text().splitlines()) == 3
        assert app.screen.query_one(DataTable).row_count == 3


async def test_cancelling_a_run_asks_first(project) -> None:
    folder = write_run(project, status="running")
    app = create_app(project)
    app.runner = ScriptedRunner(project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmModal"
        await pilot.press("escape")
        await _settle(pilot, app)
        assert app.runner.calls == [], "Esc keeps the run going"
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await _settle(pilot, app)
        assert app.runner.calls == [f"cancel {folder.run_id}"]


async def test_quitting_over_an_unsaved_edit_asks_first(project) -> None:
    write_imported(project, examples(4), name="all.jsonl")
    app = create_app(project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press(*" (edited)")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.is_running and type(app.screen).__name__ == "ConfirmModal"
        await pilot.press("n")
        await pilot.pause()
        assert type(app.screen).__name__ == "ExampleModal"
        assert " (edited)" in app.screen.query(TextArea).first().text, "the edit is still there"
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert not app.is_running


async def test_quitting_without_an_edit_does_not_ask(project) -> None:
    write_imported(project, examples(4), name="all.jsonl")
    app = create_app(project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running


async def test_a_tab_typed_in_the_editor_is_part_of_the_text(project) -> None:
    write_imported(project, examples(4), name="all.jsonl")
    app = create_app(project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        first = app.screen.query(TextArea).first()
        first.move_cursor(first.document.end)
        await pilot.press("a", "tab", "b")
        await pilot.pause()
        assert app.focused is first, "the tab did not move to the next box"
        assert first.text.endswith("a\tb")
        assert not any(area.text.endswith("b") for area in list(app.screen.query(TextArea))[1:])


class FlakyBackend:
    """Fails the first reply, then answers; records what it was sent."""

    def __init__(self) -> None:
        self.sent: list[list[dict[str, Any]]] = []

    def stream(self, model, conversation, params=None) -> Iterator[str]:
        self.sent.append([dict(turn) for turn in conversation])
        if len(self.sent) <= 2:  # the first message, on both sides
            raise BackendError("The provider is overloaded (529)", "Try again in a minute.")
        yield "fine now"


async def test_a_chat_error_is_not_sent_back_to_the_model(finished_project, monkeypatch) -> None:
    backend = FlakyBackend()
    monkeypatch.setattr(tuneui.core.providers, "get_backend", lambda name, workspace: backend)
    app = create_app(finished_project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        await pilot.press(*"first", "enter")
        await _settle(pilot, app)
        assert "overloaded" in str(app.screen.query_one("#chat-base-log").render())
        app.screen.query_one(Input).value = "second"
        await pilot.press("enter")
        await _settle(pilot, app)
        later = backend.sent[-1]
        assert not any("overloaded" in str(turn["content"]) for turn in later), later
        assert [turn["role"] for turn in later if turn["role"] != "system"] == ["user"]
        assert later[-1]["content"] == "second"
        assert "fine now" in str(app.screen.query_one("#chat-base-log").render())


async def test_cancel_on_a_finished_run_says_there_is_nothing_to_cancel(project) -> None:
    write_run(project, status="succeeded")
    app = create_app(project)
    app.runner = ScriptedRunner(project)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("x")
        await _settle(pilot, app)
        assert type(app.screen).__name__ == "TrainScreen" and app.runner.calls == []
        assert any("nothing to cancel" in note.message for note in app._notifications)


async def test_a_file_with_lines_that_hold_no_example_is_not_rewritten_without_them(project) -> None:
    """A save writes the examples: a line that is none (broken JSON, a lone surrogate escape) would
    vanish with it. Editing waits until that line is fixed, and says which line and why."""
    lines = [examples(1)[0], "{ not json [red]x", '{"messages": [{"role": "user", "content": "caf\\udce9"}]}', *examples(4)]
    path = write_imported(project, lines, name="all.jsonl")
    before = path.read_bytes()
    app = create_app(project)
    async with app.run_test(size=(140, 45), notifications=True) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        for key in ("enter", "d", "x", "a"):
            await pilot.press(key)
            await pilot.pause()
            assert type(app.screen).__name__ == "DatasetScreen", f"{key} opened {type(app.screen).__name__}"
            await pilot.press("ctrl+s")
            await _settle(pilot, app)
        assert path.read_bytes() == before
        assert "read-only until the lines that hold no example are fixed" in str(app.screen.query_one("#dataset-title").render())
        messages = [note.message for note in app._notifications]
        assert any("Lines 2, 3 of all.jsonl hold no example" in message for message in messages), messages


async def test_saving_an_example_unchanged_keeps_every_message_as_it_was(project) -> None:
    """Content that is no plain string (text parts, the null of a tool call) is shown but kept as it
    is, and a line or paragraph separator in a string is not turned into a newline."""
    tool_call = [{"id": "c1", "type": "function", "function": {"name": "hours", "arguments": "{}"}}]
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Open [red]x[/red] \x1b[2J?"}]},
        {"role": "assistant", "content": None, "tool_calls": tool_call},
        {"role": "tool", "content": "9-6", "tool_call_id": "c1"},
        {"role": "assistant", "content": "Tuesday\u2028to Saturday\u2029\r\n9-6."},
    ]
    path = write_imported(project, [json.dumps({"messages": messages}), *examples(4)], name="all.jsonl")
    app = create_app(project)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "ExampleModal"
        editor_text = "\n".join(area.text for area in app.screen.query(TextArea))
        assert '[{"type": "text", "text": "Open [red]x[/red] \\u001b[2J?"}]' in editor_text, "parts are shown as their JSON"
        assert "\x1b" not in editor_text
        await pilot.press("ctrl+s")
        await _settle(pilot, app)
        assert json.loads(path.read_text(encoding="utf-8").split("\n")[0])["messages"] == messages
