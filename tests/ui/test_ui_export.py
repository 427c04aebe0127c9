"""Export in the app: the guide offers it after Evaluate (and warns when the verdict says keep the
prompt), its card shows the checks, and its view shows the files, the checks and the commands."""

from __future__ import annotations

from backends.runs import list_runs
from tuneui.core.files import atomic_write_json, read_json
from tuneui.guide.machine import Action, Guide
from tuneui.guide.runner import StepResult
from tuneui.widgets.literal import visible

from .conftest import write_export
from .test_ui_hostile_names import opened_view


def test_the_guide_offers_export_once_the_tuned_model_wins(finished_project) -> None:
    guide = Guide(finished_project)
    turn = guide.opening()
    assert turn.question == "Next: Export. The tuned model wins; export it for Ollama, llama.cpp, vLLM and transformers?"
    assert [choice.command for choice in turn.choices][0] == "/export"
    assert not any("Careful" in line for line in turn.says)
    assert guide.answer("yes").action == Action("export")


def test_a_verdict_that_says_keep_the_prompt_gets_a_plain_warning(finished_project) -> None:
    result_file = next(finished_project.runs_dir.glob("*/eval/result.json"))
    result = read_json(result_file)
    result["verdict"] = "no clear difference: keep the prompt (rouge_l 0.50 vs 0.52)"
    atomic_write_json(result_file, result)
    turn = Guide(finished_project).opening()
    assert "Careful: the verdict says no clear difference: keep the prompt (rouge_l 0.50 vs 0.52)." in " ".join(turn.says)
    assert turn.question == "Next: Export. Export the tuned model anyway?"


def test_after_an_export_the_card_shows_each_check_and_the_guide_moves_on(finished_project) -> None:
    folder = list_runs(finished_project.runs_dir)[-1]
    write_export(finished_project, folder)
    data = read_json(finished_project.root / "exports" / folder.run_id / "export.json")
    guide = Guide(finished_project)
    turn = guide.finished(Action("export"), StepResult(True, data, summary="Exported."))
    card = turn.cards[0]
    assert card.title == f"Exported run {folder.run_id} to exports/{folder.run_id}"
    assert ("passed", "merged = adapter (greedy answers): 5 of 5 the same") in card.rows
    assert ("ollama", f"ollama create tiny-tuned-{folder.run_id} -f Modelfile") in card.rows
    assert "Export view" in turn.question
    assert "All 6 steps are done" in guide.opening().question


async def test_the_export_view_shows_files_checks_and_commands_literally(finished_project) -> None:
    folder = list_runs(finished_project.runs_dir)[-1]
    write_export(finished_project, folder, command_text=" \x1b[31mred\x07")
    screen, shown = await opened_view(finished_project, "f7")
    assert screen == "ExportScreen"
    assert f"Exported run {folder.run_id}" in shown
    assert "GGUF holds the chat template and every stop id: stop ids [2] in f16, q8_0" in shown
    assert "llama-server -m" in shown and "--enable-lora --lora-modules" in shown
    assert visible(" \x1b[31mred\x07") in shown  # a control character in a command is shown, not obeyed


async def test_the_export_view_before_any_export_says_how_to_make_one(finished_project) -> None:
    screen, shown = await opened_view(finished_project, "f7")
    assert screen == "ExportScreen" and "Nothing exported yet: press x (or type /export)" in shown


def test_with_ollama_on_path_the_guide_offers_to_create_the_model(finished_project, monkeypatch) -> None:
    from tuneui.guide import export_step

    folder = list_runs(finished_project.runs_dir)[-1]
    write_export(finished_project, folder)
    data = read_json(finished_project.root / "exports" / folder.run_id / "export.json")
    monkeypatch.setattr(export_step.shutil, "which", lambda name: "/usr/local/bin/ollama" if name == "ollama" else None)
    guide = Guide(finished_project)
    turn = guide.finished(Action("export"), StepResult(True, data, summary="Exported."))
    assert turn.question == "Ollama is installed: create the model in it now?"
    assert guide.answer("yes").action == Action("export", "ollama")


def test_export_force_in_the_guide_exports_again(finished_project) -> None:
    guide = Guide(finished_project)
    guide.opening()
    turn = guide.answer("/export force")
    assert turn.action == Action("export", "force") and "again" in turn.says[0]


def test_an_export_that_exists_tells_the_guide_user_how_to_replace_it(finished_project) -> None:
    from tuneui.guide.export_step import EXPORT_STEP

    class Refusing:
        workspace = finished_project
        calls: list = []

        def run_command(self, args, **kwargs):
            self.calls.append(list(args))
            return StepResult(False, title=f"{finished_project.root}/exports/{args[1]} already exists", hint="use --force")

    runner = Refusing()
    result = EXPORT_STEP.run(runner, "")
    assert not result.ok and result.hint == "Type /export force to export it again over the old one."
    EXPORT_STEP.run(runner, "force")
    assert runner.calls[-1][-1] == "--force"


async def test_at_80x24_the_export_view_wraps_its_details_instead_of_cutting_them(finished_project) -> None:
    import re

    from tuneui.app import create_app

    from .screen_text import screen_text

    write_export(finished_project, list_runs(finished_project.runs_dir)[-1])
    app = create_app(finished_project)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f7")
        for _ in range(3):
            await pilot.pause()
        words = " ".join(re.sub(r"[│╭╮╰╯─▄▉▁▃▅▆]", " ", screen_text(app)).split())  # the card's border out
    assert "every stop id: stop ids [2] in f16, q8_0" in words, words
    assert "merged = adapter (greedy answers): 5 of 5 the same" in words, words
