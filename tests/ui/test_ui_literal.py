"""Text from users, files and providers is shown literally in every field of the app: Rich markup
keeps its brackets (and never crashes the app), and control characters appear as visible symbols
instead of reaching the terminal (an OSC title change or a screen clear would)."""

from __future__ import annotations

import json
from typing import Iterator

import pytest
from textual.widgets import DataTable, Input, TextArea

from tuneui.core.backend import Backend
from tuneui.app import TuneApp, create_app
from tuneui.core.files import atomic_write_json
from tuneui.guide.runner import StepResult

from .conftest import chat_line, examples, write_imported, write_run, write_split
from .scripted import BASELINE, CHECK, ScriptedRunner

BIG = (140, 45)
# Each hostile text with what the screen must show for it.
PAYLOADS = {
    "Is [/bold] a tag?": "Is [/bold] a tag?",
    "[red]x[/red]": "[red]x[/red]",
    "\x1b]0;TITLE\x07": "␛]0;TITLE␇",
    "\x1b[2J": "␛[2J",
}


def screen_text(app: TuneApp) -> str:
    """Every character the current screen sends to the terminal, as the terminal would get it,
    and the text of its notifications (drawn on a layer of their own)."""
    lines = [strip.text for strip in app.screen._compositor.render_strips()]
    lines += [str(toast.render()) for toast in app.screen.query("Toast")]
    return "\n".join(lines)


def assert_literal(app: TuneApp, *expected: str) -> None:
    shown = screen_text(app)
    assert app.is_running
    assert "\x1b" not in shown and "\x07" not in shown, "a control character reached the terminal"
    for text in expected:
        assert PAYLOADS[text] in shown, f"{PAYLOADS[text]!r} is not on the screen:\n{shown}"


async def _settle(pilot, app) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_what_the_user_types_to_the_guide_is_shown_literally(project, payload: str) -> None:
    app = create_app(project)
    async with app.run_test(size=BIG) as pilot:
        await pilot.pause()
        app.screen.query_one("#prompt", Input).value = payload
        await pilot.press("enter")
        await _settle(pilot, app)
        assert_literal(app, payload)


class AnsweringRunner(ScriptedRunner):
    """The assistant answers with hostile text, and the steps report it in their findings."""

    def ask(self, question: str, context: str) -> StepResult:
        return StepResult(True, {"answer": " ".join(PAYLOADS)})

    def check(self) -> StepResult:
        findings = [{"line": n, "code": "hostile", "message": text, "hint": ""} for n, text in enumerate(PAYLOADS, 1)]
        return StepResult(True, {**CHECK, "warnings": findings}, summary="Checked.")

    def baseline(self) -> StepResult:
        variants = {text: {"rouge_l": 0.1} for text in PAYLOADS}
        return StepResult(True, {**BASELINE, "variants": variants, "best": "\x1b[2J"}, summary="Baseline saved.")


async def test_an_assistant_answer_is_shown_literally(project) -> None:
    app = create_app(project)
    app.runner = AnsweringRunner(project)
    app.guide.assistant = "openai:gpt-4o-mini"
    async with app.run_test(size=BIG) as pilot:
        await pilot.pause()
        app.screen.query_one("#prompt", Input).value = "what does it mean?"
        await pilot.press("enter")
        await _settle(pilot, app)
        assert_literal(app, *PAYLOADS)


async def test_cards_show_findings_titles_and_rows_literally(project) -> None:
    write_imported(project, examples(25), name="all.jsonl")
    app = create_app(project)
    app.runner = AnsweringRunner(project)
    async with app.run_test(size=BIG) as pilot:
        await pilot.pause()
        await pilot.press(*"/data", "enter")
        await _settle(pilot, app)
        assert_literal(app, *PAYLOADS)
        write_split(project)
        await pilot.press(*"/baseline", "enter")
        await _settle(pilot, app)
        assert_literal(app, *PAYLOADS)
        assert "Baseline to beat: ␛[2J" in screen_text(app), "the card's title too"


async def test_dataset_table_and_editor_show_examples_literally_and_keep_them(project) -> None:
    lines = [chat_line(text, f"answer {n}") for n, text in enumerate(PAYLOADS)] + examples(3)
    path = write_imported(project, lines, name="all.jsonl")
    app = create_app(project)
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        assert_literal(app, *PAYLOADS)
        for position, text in enumerate(PAYLOADS):
            app.screen.query_one(DataTable).move_cursor(row=position)
            await pilot.press("enter")
            await pilot.pause()
            assert type(app.screen).__name__ == "ExampleModal"
            assert PAYLOADS[text] in app.screen.query(TextArea)[1].text
            assert_literal(app, text)
            await pilot.press("ctrl+s")
            await _settle(pilot, app)
        saved = [json.loads(line)["messages"][1]["content"] for line in path.read_text(encoding="utf-8").splitlines()]
        assert saved[:4] == list(PAYLOADS), "saving unchanged examples keeps their text, control characters included"


class EchoBackend(Backend):
    name = "echo"
    supports_streaming = True

    def __init__(self, workspace) -> None:
        self.workspace = workspace

    def stream(self, model, conversation, params=None) -> Iterator[str]:
        yield from ("heard: ", conversation[-1]["content"], " and ", " ".join(PAYLOADS))

    check = estimate = start = events = status = cancel = result = generate = None  # type: ignore[assignment]


async def test_chat_shows_messages_and_replies_literally(finished_project, monkeypatch) -> None:
    import tuneui.core.providers

    monkeypatch.setattr(tuneui.core.providers, "get_backend", lambda name, workspace: EchoBackend(workspace))
    app = create_app(finished_project)
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        app.screen.query_one(Input).value = "Is [/bold] a tag?"
        await pilot.press("enter")
        await _settle(pilot, app)
        assert_literal(app, *PAYLOADS)


async def test_evaluate_view_shows_answers_and_verdict_literally(finished_project) -> None:
    from backends.runs import list_runs

    folder = list_runs(finished_project.runs_dir)[-1]
    result = json.loads((folder.eval_dir / "result.json").read_text())
    result["verdict"] = "verdict \x1b[2J"
    result["differing"] = [
        {"line": n, "request": f"request {text}", "reference": f"ref {text}", "baseline": f"base {text}",
         "tuned": f"tuned {text}", "judge": "win", "judge_reason": text}
        for n, text in enumerate(PAYLOADS, 1)
    ]
    atomic_write_json(folder.eval_dir / "result.json", result)
    app = create_app(finished_project)
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        for text in PAYLOADS:
            assert_literal(app, text)
            await pilot.press("down")
            await pilot.pause()


async def test_train_view_shows_a_provider_error_literally(project) -> None:
    folder = write_run(project, status="failed")
    folder.write_status(error="provider said [red]x[/red] \x1b]0;TITLE\x07 \x1b[2J Is [/bold] a tag?")
    app = create_app(project)
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        assert_literal(app, *PAYLOADS)


async def test_notifications_show_provider_text_literally(project) -> None:
    write_run(project, status="running")

    class RefusingRunner(ScriptedRunner):
        def run_command(self, args, *, expect_json=True, accept_codes=(0,)):
            return StepResult(False, title="Is [/bold] a tag? [red]x[/red]", hint="\x1b]0;TITLE\x07 \x1b[2J")

    app = create_app(project)
    app.runner = RefusingRunner(project)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        if type(app.screen).__name__ == "ConfirmModal":
            await pilot.press("y")
        await _settle(pilot, app)
        await pilot.pause(0.3)
        assert_literal(app, *PAYLOADS)


async def test_cost_view_shows_a_provider_error_literally(project) -> None:
    rows = [{"backend": "together", "model": f"m{n}", "error": text} for n, text in enumerate(PAYLOADS)]
    atomic_write_json(project.reports_dir / "cost.json", {"rows": rows})
    app = create_app(project)
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        assert_literal(app, *PAYLOADS)
