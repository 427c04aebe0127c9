"""Names and values that come from the file system, a provider or a hand-edited run folder are shown
literally too: a data file whose name is not UTF-8 (Python holds its bytes as lone surrogates, which a
terminal cannot take), a run plan or a step count that is not what tuneui wrote."""

from __future__ import annotations

import json
import os

import pytest
from textual.widgets import Input

from tuneui.core.backend import Event
from tuneui.app import create_app
from tuneui.guide.runner import StepResult
from tuneui.widgets.literal import restore_controls, visible

from .conftest import examples, write_imported, write_run
from .scripted import ScriptedRunner
from .test_ui_literal import BIG, screen_text

LATIN1_NAME = os.fsdecode(b"caf\xe9.jsonl")  # an old archive's Latin-1 name: 0xE9 is no UTF-8
HOSTILE = "[red]x[/red] \x1b]0;TITLE\x07 \x1b[2J"


def assert_no_surrogate(shown: str) -> None:
    lone = [char for char in shown if 0xD800 <= ord(char) <= 0xDFFF]
    assert not lone, f"lone surrogates reach the terminal: {lone!r}"


async def _settle(pilot, app) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def opened_view(project, key: str) -> tuple[str, str]:
    """(the screen's class name, its text) after the view on `key` opens: the app still runs, and
    no ESC or BEL reached the terminal."""
    app = create_app(project)
    async with app.run_test(size=BIG) as pilot:
        await pilot.press(key)
        await pilot.pause()
        assert app.is_running
        screen, shown = type(app.screen).__name__, screen_text(app)
    assert "\x1b" not in shown and "\x07" not in shown, "a control character reached the terminal"
    return screen, shown


def test_bidi_controls_are_written_as_escapes_so_a_name_cannot_read_backwards() -> None:
    # "Trojan source": U+202E shows `data\u202elsnoj.exe` as `dataexe.jsonl` in a terminal that applies bidi.
    assert visible("data\u202elsnoj.exe \u2066x\u2069") == "data\\u202elsnoj.exe \\u2066x\\u2069"
    assert restore_controls(visible("a\u202eb"), "a\u202eb") == "a\u202eb"


def test_a_lone_surrogate_is_written_as_its_escape_and_restored_on_save() -> None:
    assert visible("caf\udce9 \ud83d") == "caf\\udce9 \\ud83d"
    assert restore_controls(visible("caf\udce9"), "caf\udce9") == "caf\udce9", "an unchanged edit keeps the text"


async def test_a_data_file_whose_name_is_not_utf8_is_shown_escaped_in_the_dataset_view(project) -> None:
    write_imported(project, examples(12), name=LATIN1_NAME)
    app = create_app(project)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("ctrl+s")  # saved unchanged: the notification names the file too
        await _settle(pilot, app)
        shown = screen_text(app)
        assert app.is_running
        assert_no_surrogate(shown)
        assert "caf\\udce9.jsonl: 12 examples" in shown
        assert "Saved caf\\udce9.jsonl" in shown


async def test_the_guide_names_a_file_whose_name_is_not_utf8_escaped(project) -> None:
    class LatinRunner(ScriptedRunner):
        def check(self):
            result = super().check()
            return type(result)(True, result.data, summary=f"Checked {LATIN1_NAME}: 0 errors, 2 warnings.")

    write_imported(project, examples(12), name=LATIN1_NAME)
    app = create_app(project)
    app.runner = LatinRunner(project)
    async with app.run_test(size=BIG) as pilot:
        await pilot.pause()
        app.screen.query_one("#prompt", Input).value = "/data"
        await pilot.press("enter")
        await _settle(pilot, app)
        shown = screen_text(app)
        assert_no_surrogate(shown)
        assert "Checked caf\\udce9.jsonl" in shown


async def test_a_run_plan_edited_by_hand_is_shown_literally(project) -> None:
    folder = write_run(project, status="running")
    spec = json.loads(folder.spec_path.read_text(encoding="utf-8"))
    spec.setdefault("options", {})["plan"] = {"steps": HOSTILE, "epochs": 2, "learning_rate": HOSTILE, "reasons": [HOSTILE]}
    folder.spec_path.write_text(json.dumps(spec), encoding="utf-8")
    _, shown = await opened_view(project, "f4")
    assert "plan [red]x[/red] ␛]0;TITLE␇ ␛[2J steps" in shown


async def test_a_step_count_that_is_not_a_number_neither_stops_the_app_nor_counts(project) -> None:
    folder = write_run(project, status="running", total_steps=40)
    folder.append_events([Event("metrics", {"step": 20, "total_steps": HOSTILE, "train_loss": 1.0}, 2000.0)])
    _, shown = await opened_view(project, "f4")
    assert "step 20/40" in shown, "the last count that was a number stands"


async def test_a_step_failure_naming_such_a_file_is_an_error_card_shown_literally(project) -> None:
    class FailingRunner(ScriptedRunner):
        def check(self):
            raise FileNotFoundError(2, "No such file or directory", f"data/{LATIN1_NAME} {HOSTILE}")

        def split(self):
            return StepResult(False, title=f"{LATIN1_NAME}: no response column (columns: {HOSTILE})", hint=f"Map it. {HOSTILE}")

    write_imported(project, examples(12), name="all.jsonl")
    app = create_app(project)
    app.runner = FailingRunner(project)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        for command in ("/data", "/split"):
            app.screen.query_one("#prompt", Input).value = command
            await pilot.press("enter")
            await _settle(pilot, app)
        shown = screen_text(app)
        assert app.is_running
        assert_no_surrogate(shown)
        assert "\x1b" not in shown and "\x07" not in shown, "a control character reached the terminal"
        assert "FileNotFoundError" in shown and "'data/caf\\udce9.jsonl [red]x[/red]" in shown, "the exception quotes its path escaped"
        assert "That did not work: caf\\udce9.jsonl: no response column (columns: [red]x[/red] ␛]0;TITLE␇ ␛[2J)" in shown
        assert "Map it. [red]x[/red] ␛]0;TITLE␇ ␛[2J" in shown


async def test_a_rule_name_in_a_saved_evaluation_is_shown_literally(finished_project) -> None:
    result_file = next(finished_project.runs_dir.glob("*/eval/result.json"))
    result = json.loads(result_file.read_text(encoding="utf-8"))
    result["rules"] = {"baseline": {"passed": 0, "total": 1}, "tuned": {"passed": 1, "total": 1}}
    result["differing"][0]["rules_failed"] = {"baseline": [HOSTILE, f"{LATIN1_NAME} rule"], "tuned": []}
    result_file.write_text(json.dumps(result), encoding="utf-8")
    _, shown = await opened_view(finished_project, "f5")
    assert_no_surrogate(shown)
    assert "broke: [red]x[/red] ␛]0;TITLE␇ ␛[2J, caf\\udce9.jsonl rule" in shown


async def test_a_line_number_edited_into_text_in_a_saved_evaluation_is_shown_literally(finished_project) -> None:
    result_file = next(finished_project.runs_dir.glob("*/eval/result.json"))
    result = json.loads(result_file.read_text(encoding="utf-8"))
    result["differing"][0]["line"] = "Is [/bold] a tag? \x1b[2J"
    result_file.write_text(json.dumps(result), encoding="utf-8")
    _, shown = await opened_view(finished_project, "f5")
    assert "Is [/bold] a tag? ␛[2J" in shown


@pytest.mark.parametrize(
    "content",
    ["{ not json", json.dumps({"metrics": ["[red]x"], "verdict": "v"}), json.dumps({"differing": [{"judge": ["win"]}], "verdict": "v"})],
    ids=["invalid json", "metrics a list", "judge a list"],
)
async def test_a_damaged_evaluation_is_named_in_the_evaluate_view_and_the_app_goes_on(finished_project, content) -> None:
    result_file = next(finished_project.runs_dir.glob("*/eval/result.json"))
    result_file.write_text(content, encoding="utf-8")
    screen, shown = await opened_view(finished_project, "f5")
    assert screen == "EvaluateScreen"
    assert "result.json" in shown and "damaged" in shown, shown


@pytest.mark.parametrize("content", ["{ not json", '{"rows": "[red]x"}', '{"rows": [1]}', "[1]"], ids=["invalid json", "rows text", "a row a number", "a list"])
async def test_a_damaged_cost_report_is_named_in_the_cost_view_and_the_app_goes_on(project, content) -> None:
    (project.reports_dir / "cost.json").write_text(content, encoding="utf-8")
    screen, shown = await opened_view(project, "f3")
    assert screen == "CostScreen" and "reports/cost.json is damaged" in shown


async def test_a_status_word_that_is_not_text_makes_the_run_damaged_not_the_app_unopenable(project) -> None:
    folder = write_run(project, status="running")
    folder.status_path.write_text(json.dumps({"status": ["[red]x"], "backend": "local"}), encoding="utf-8")
    _, shown = await opened_view(project, "f4")
    assert "damaged" in shown and "status.json" in shown


async def test_a_tuned_model_whose_fields_are_not_text_leaves_the_chat_usable(finished_project) -> None:
    from backends.runs import list_runs

    folder = list_runs(finished_project.runs_dir)[-1]
    status = json.loads(folder.status_path.read_text(encoding="utf-8"))
    status["model_ref"] = {**status["model_ref"], "base_model": 3, "path": ["[red]x"]}
    folder.status_path.write_text(json.dumps(status), encoding="utf-8")
    screen, shown = await opened_view(finished_project, "f6")
    assert screen == "ChatScreen" and "No tuned model yet" in shown


@pytest.mark.parametrize(
    "metrics, time",
    [({"train_loss": 1.0}, "[red]x"), ({"train_loss": 1.0}, None), ({"train_loss": float("nan"), "valid_loss": float("inf")}, 3000.0),
     ({"train_loss": 1e308, "tokens_per_second": float("inf")}, 3000.0)],
    ids=["time text", "time null", "loss NaN", "loss huge"],
)
async def test_a_metric_no_run_logs_is_left_out_of_the_train_view(project, metrics, time) -> None:
    folder = write_run(project, status="running")
    with folder.events_path.open("a", encoding="utf-8") as events:
        events.write(json.dumps({"type": "metrics", "data": {"step": 20, **metrics}, "time": time}) + "\n")
    _, shown = await opened_view(project, "f4")
    assert "step 20/40" in shown
