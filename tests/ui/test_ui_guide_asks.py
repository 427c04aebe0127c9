"""Issue 21, without a screen: the guide asks for what a project lacks, writes each answer as one
changed value of tuneui.toml, takes the headless options, answers common questions itself, and
never offers what is running or done; its next question follows the project's state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneui.core.settings import Settings
from tuneui.core.workspace import Workspace, init_workspace
from tuneui.guide.machine import Action, Guide
from tuneui.guide.runner import StepResult

from .conftest import write_baseline, write_cost, write_imported, write_run, write_split


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A new user's project: no model, no system prompt, no key; the embedded model not prepared."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("tuneui.core.secrets._from_keyring", lambda name: None)
    monkeypatch.setattr("tuneui.guide.questions._IN_KEYRING", {})
    settings = Settings()
    settings.project.name = "My shop"
    workspace = init_workspace(tmp_path / "fresh", settings)
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text("# my notes: keep them\n" + text, encoding="utf-8")
    return workspace


def _bare(count: int, ending: str = "") -> list[str]:
    lines = []
    for n in range(count):
        messages = [{"role": "user", "content": f"Question {n}?"}, {"role": "assistant", "content": f"Answer {n}.{ending}"}]
        lines.append(json.dumps({"messages": messages}))
    return lines


def _split_without_system(workspace: Workspace, ending: str = "") -> None:
    lines = _bare(25, ending)
    write_imported(workspace, lines, name="all.jsonl")
    workspace.train_file.write_text("\n".join(lines[:20]) + "\n", encoding="utf-8")
    workspace.val_file.write_text("\n".join(lines[20:]) + "\n", encoding="utf-8")


def test_a_project_without_a_model_is_asked_for_one_with_what_each_costs(fresh: Workspace, monkeypatch) -> None:
    _split_without_system(fresh)
    turn = Guide(fresh).opening()
    assert "Which model?" in turn.question and "folder" in turn.question and "Hugging Face id" in turn.question
    assert [c.command for c in turn.choices] == ["/model embedded"]
    said = " ".join(turn.says)
    assert "free, trains on a CPU in minutes" in said and "prepared once" in said
    assert "openai" not in said, "no provider is offered without its key"
    monkeypatch.setenv("TOGETHER_API_KEY", "tok-not-real")
    turn = Guide(fresh).opening()
    assert [c.command for c in turn.choices] == ["/model embedded", "/model together:meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"]
    assert "paid per token" in " ".join(turn.says) and "TOGETHER_API_KEY is set" in " ".join(turn.says)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real-000000")
    assert "Which model?" not in Guide(fresh).opening().question, "the hosted default has its key: nothing lacks"


def test_a_typed_folder_becomes_the_model_written_as_one_value(fresh: Workspace, tmp_path: Path) -> None:
    _split_without_system(fresh)
    folder = tmp_path / "models" / "tiny"
    folder.mkdir(parents=True)
    before = fresh.config_path.read_text(encoding="utf-8").splitlines()
    guide = Guide(fresh)
    guide.opening()
    turn = guide.answer(str(folder))
    assert "Written to tuneui.toml:" in turn.says
    assert f'  [models] local = "{folder}"' in turn.says
    after = fresh.config_path.read_text(encoding="utf-8").splitlines()
    assert [line for line in after if line not in before] == [f'local = "{folder}"']
    assert after[0] == "# my notes: keep them" and len(after) == len(before)
    assert fresh.settings().models.local == str(folder)
    assert "Which model?" not in turn.question


def test_the_embedded_model_is_prepared_first_when_this_machine_has_none(fresh: Workspace, tmp_path: Path) -> None:
    _split_without_system(fresh)
    guide = Guide(fresh)
    guide.opening()
    turn = guide.answer("1")
    assert turn.action == Action("prepare")
    folder = tmp_path / "cache" / "tuneui" / "models" / "SmolLM2-135M-Instruct"
    done = guide.finished(Action("prepare"), StepResult(True, {"folder": str(folder)}))
    assert f'  [models] local = "{folder}"' in done.says


def test_the_system_prompt_is_asked_for_and_then_added_to_every_example(project: Workspace) -> None:
    project.config_path.write_text(project.config_path.read_text(encoding="utf-8").replace(
        'system_prompt = "You answer support questions for Cadence Cycles."', 'system_prompt = ""'), encoding="utf-8")
    _split_without_system(project)
    guide = Guide(project)
    turn = guide.opening()
    assert "25 examples have no system prompt" in " ".join(turn.says)
    assert "Which system prompt?" in turn.question
    turn = guide.answer("You answer for the shop.")
    assert '  [project] system_prompt = "You answer for the shop."' in turn.says
    assert project.settings().project.system_prompt == "You answer for the shop."
    turn = guide.command("/fix system")
    assert turn.cards and turn.cards[0].title == "/fix system: 25 lines"
    assert turn.cards[0].rows[1][0].startswith("+ 1: ") and "You answer for the shop." in turn.cards[0].rows[1][0]
    assert "You answer for the shop." not in (project.data_dir / "all.jsonl").read_text(encoding="utf-8")
    saved = guide.answer("save it")
    assert "Saved: 25 lines of all.jsonl changed" in " ".join(saved.says) and "/undo" in " ".join(saved.says)
    assert (project.data_dir / "all.jsonl").read_text(encoding="utf-8").count("You answer for the shop.") == 25
    undone = guide.command("/undo")
    assert "as it was before the last fix" in " ".join(undone.says)
    assert "You answer for the shop." not in (project.data_dir / "all.jsonl").read_text(encoding="utf-8")


def test_task_rules_are_offered_from_the_examples_common_ending(project: Workspace) -> None:
    _split_without_system(project, ending=" Keep rolling!")
    guide = Guide(project)
    turn = guide.opening()
    assert turn.question == "Add these rules to tuneui.toml?"
    said = " ".join(turn.says)
    assert 'ending: ends_with = "Keep rolling!"' in said and "length: max_words = 5" in said
    turn = guide.answer("yes")
    assert '[rules.ending] ends_with = "Keep rolling!"' in turn.says
    assert project.settings().rules["ending"] == {"ends_with": "Keep rolling!"}
    assert turn.choices[0].command == "/baseline"


def test_step_commands_take_the_headless_options_or_say_they_do_not(project: Workspace) -> None:
    write_split(project)
    guide = Guide(project)
    assert guide.command("/baseline --backend local --model Qwen/Qwen2.5-0.5B-Instruct --shots 0").action == Action(
        "baseline", "--backend local --model Qwen/Qwen2.5-0.5B-Instruct --shots 0")
    refused = guide.command("/baseline --epochs 2")
    assert refused.action is None
    assert "/baseline does not take '--epochs'; it takes --backend, --model, --shots" in refused.says[0]
    assert "takes no options in the app" in guide.command("/cost --model x").says[0]
    assert "needs a value" in guide.command("/baseline --model").says[0]


def test_common_questions_are_answered_without_an_assistant(project: Workspace) -> None:
    write_split(project)
    write_baseline(project)
    guide = Guide(project)
    routed = guide.answer("How much would this cost on Together?")
    assert routed.action == Action("cost"), "cost on a provider goes to the Cost step"
    assert "on together" in routed.says[0]
    assert "overfitting" in guide.answer("why does my val loss rise?").says[0]
    assert "adapter" in guide.answer("what is LoRA").says[0]
    assert "This project has 25 examples (20 to train on, 5 held out)" in guide.answer("is my data enough?").says[0]
    assert "Your best prompt so far is the 3-shot prompt. Fine-tune when" in guide.answer("should I fine-tune or fix my prompt?").says[0]
    other = guide.answer("what is the meaning of life")
    assert any("/assistant openai:gpt-4o-mini" in line for line in other.says)
    assert any("/assistant together:" in line for line in other.says) and any("/assistant local:" in line for line in other.says)
    written = guide.command("/assistant openai:gpt-4o-mini")
    assert '  [models] assistant = "openai:gpt-4o-mini"' in written.says
    asked = guide.answer("what is the meaning of life")
    assert asked.action == Action("ask", "what is the meaning of life"), "the assistant is used at once, no restart"


def test_a_running_step_is_never_shown_done_nor_offered(finished_project: Workspace) -> None:
    guide = Guide(finished_project)
    guide.busy = "baseline"
    guide.progress = lambda: "baseline: answer 7 of 66"
    states = guide.step_states(guide.state())
    assert states["Baseline"] == "running"
    turn = guide.command("/help")
    assert "Baseline is running" in turn.question
    assert all(c.command != "/baseline" for c in turn.choices)
    again = guide.command("/baseline")
    assert again.action is None and "already running: baseline: answer 7 of 66" in again.says[0]
    assert guide.command("/cancel").action == Action("cancel")


def test_after_estimating_the_cost_it_is_never_offered_again(project: Workspace) -> None:
    write_split(project)
    write_baseline(project)
    guide = Guide(project)
    assert guide.opening().choices[0].command == "/cost"
    write_cost(project)
    turn = guide.recheck()
    assert turn is not None and turn.choices[0].command == "/train"
    assert all("Estimate" not in c.label for c in turn.choices)
    assert guide.recheck() is None, "nothing changed: the open question stands"


def test_a_run_ending_withdraws_the_watch_it_question(project: Workspace) -> None:
    write_split(project)
    write_baseline(project)
    write_cost(project)
    folder = write_run(project, status="running")
    guide = Guide(project)
    assert "Watch it?" in guide.opening().question
    folder.write_status(status="succeeded")
    turn = guide.recheck()
    assert turn is not None and "Compare the tuned model" in turn.question
    assert turn.choices[0].command == "/eval"


def test_an_edit_of_tuneui_toml_withdraws_the_model_question(fresh: Workspace, tmp_path: Path) -> None:
    _split_without_system(fresh)
    guide = Guide(fresh)
    assert "Which model?" in guide.opening().question
    text = fresh.config_path.read_text(encoding="utf-8")
    fresh.config_path.write_text(text.replace('local = ""', f'local = "{tmp_path}"'), encoding="utf-8")
    turn = guide.recheck()
    assert turn is not None and "Which model?" not in turn.question


def test_the_end_offers_the_report_and_says_what_rouge_cannot_see(finished_project: Workspace) -> None:
    guide = Guide(finished_project)
    turn = guide.opening()
    assert "/report" in [c.command for c in turn.choices]
    run = guide.state().finished_run
    assert guide.command("/report").action == Action("report", run.run_id)
    done = guide.finished(Action("eval"), StepResult(True, {"verdict": "tuned wins", "judge": None}, summary="tuned wins"))
    said = " ".join(done.says)
    assert "ROUGE-L counts shared words" in said and "wrong fact" in said and "/eval --judge" in said
    assert "/report writes the report" in said


def test_a_number_picks_a_choice_even_while_a_prompt_is_awaited(project: Workspace) -> None:
    project.config_path.write_text(project.config_path.read_text(encoding="utf-8").replace(
        'system_prompt = "You answer support questions for Cadence Cycles."', 'system_prompt = ""'), encoding="utf-8")
    _split_without_system(project)
    guide = Guide(project)
    assert "Which system prompt?" in guide.opening().question
    turn = guide.answer("1")
    assert "No system prompt" in turn.says[0]
    assert project.settings().project.system_prompt == ""


def test_with_a_key_present_the_verdict_offers_a_judge(finished_project: Workspace, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real-000000")
    guide = Guide(finished_project)
    done = guide.finished(Action("eval"), StepResult(True, {"verdict": "tuned wins", "judge": None}, summary="tuned wins"))
    assert ("Judge with openai:gpt-4o-mini", "/eval --judge openai:gpt-4o-mini") in [(c.label, c.command) for c in done.choices]
    assert guide.answer("2").action == Action("eval", "--judge openai:gpt-4o-mini")


def test_a_key_pasted_as_an_answer_never_reaches_tuneui_toml(fresh: Workspace) -> None:
    _split_without_system(fresh)
    guide = Guide(fresh)
    guide.opening()
    before = fresh.config_path.read_text(encoding="utf-8")
    for command in ("/assistant openai:sk-proj-abcdefghijklmnop1234", "/system sk-abcdefghijklmnopqrstu"):
        turn = guide.command(command)
        assert "looks like an API key" in turn.says[0]
    assert fresh.config_path.read_text(encoding="utf-8") == before


def test_a_finished_run_is_not_promised_early_stopping() -> None:
    from tuneui.viewmodels.progress import ProgressSummary, overfit_warning

    rising = ProgressSummary(((10, 2.0), (20, 1.5), (30, 1.2), (42, 1.0)), ((10, 2.1), (20, 2.2), (30, 2.3), (42, 2.4)),
                             42, 42, None, None, 10, 2.1)  # fmt: skip
    assert rising.overfitting
    assert "early stopping will end the run" in overfit_warning(rising, active=True)
    ended = overfit_warning(rising, active=False)
    assert "early stopping" not in ended and "best checkpoint was step 10" in ended


async def test_report_and_cancel_are_in_the_palette_and_help(finished_project: Workspace) -> None:
    from tuneui.app import create_app
    from tuneui.guide.machine import COMMANDS, help_card

    assert "/report" in COMMANDS and "/report" in [row[0] for row in help_card().rows]
    app = create_app(finished_project)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "/report" in titles and "/cancel" in titles


def test_a_run_taking_steps_is_not_asked_about_again_at_every_step(project: Workspace) -> None:
    """While a run trains, its step count moves in the Train view and the sidebar; the guide's open
    question stays put instead of being said again at each step."""
    write_imported(project, [])
    write_split(project)
    write_baseline(project)
    write_cost(project)
    folder = write_run(project, status="running")
    guide = Guide(project)
    assert "Watch" in guide.opening().question
    from tuneui.core.backend import Event

    folder.append_events([Event("metrics", {"step": 16, "total_steps": 40, "train_loss": 2.0}, 1016.0)])
    assert guide.recheck() is None


def test_after_a_run_starts_its_question_is_not_said_again_in_other_words(project: Workspace) -> None:
    """Walking a fresh project: "Watch it?" after the start, then back from the Train view "Train:
    run … is running. Watch it?" and the step count, the same question said twice."""
    write_imported(project, [])
    write_split(project)
    write_baseline(project)
    write_cost(project)
    guide = Guide(project)
    guide.opening()
    folder = write_run(project, status="running")
    started = guide.finished(Action("train"), StepResult(True, {"run_id": folder.run_id}, summary=f"Run {folder.run_id} started."))
    assert "Watch" in started.question and "in its own process" in " ".join(started.says)
    assert guide.recheck() is None  # back from the Train view, nothing new to ask
