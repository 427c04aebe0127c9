"""The guide's flow, step by step, without a screen: what it says, asks and decides to do."""

from __future__ import annotations

from pathlib import Path

from tuneui.guide.machine import Action, Guide
from tuneui.guide.runner import StepResult

from .conftest import examples, write_baseline, write_cost, write_evaluation, write_imported, write_run, write_split


def test_empty_project_asks_for_the_examples_and_takes_a_path(project, tmp_path: Path) -> None:
    guide = Guide(project)
    turn = guide.opening()
    assert "Where are your examples" in turn.question
    assert turn.action is None
    source = tmp_path / "mine.jsonl"
    source.write_text("\n".join(examples(3)) + "\n")
    answered = guide.answer(str(source))
    assert answered.action == Action("import", str(source))


def test_small_talk_while_waiting_for_a_path_is_not_taken_as_a_file(project) -> None:
    guide = Guide(project)
    guide.opening()
    turn = guide.answer("hello there")
    assert turn.action is None
    assert "assistant" in " ".join(turn.says)
    assert "/assistant openai:gpt-4o-mini" in " ".join(turn.says), "how to add one, with an example per backend"
    assert not turn.cards, "not the whole command table again (issue 21)"
    assert "Where are your examples" in turn.question


def test_each_state_leads_to_the_next_step_in_order(project) -> None:
    guide = Guide(project)
    write_imported(project, examples(12))
    assert guide.opening().choices[0].command == "/data"
    write_split(project)
    assert guide.opening().choices[0].command == "/baseline"
    write_baseline(project)
    assert guide.opening().choices[0].command == "/cost"
    write_cost(project)
    assert guide.opening().choices[0].command == "/train"
    folder = write_run(project, status="running")
    turn = guide.opening()
    assert "reattached" in " ".join(turn.says)
    assert turn.choices[0].command == "/open Train"
    folder.write_status(status="succeeded")
    assert guide.opening().choices[0].command == "/eval"
    write_evaluation(project, folder)
    assert guide.opening().choices[0].command == "/export"
    (project.root / "exports" / folder.run_id).mkdir(parents=True)
    assert guide.opening().choices[0].command == "/open Evaluate"


def test_yes_and_numbers_pick_the_offered_answers(project) -> None:
    write_split(project)
    guide = Guide(project)
    guide.opening()
    assert guide.answer("yes").action == Action("baseline")
    guide.opening()
    assert guide.answer("2").action == Action("cost")
    guide.opening()
    assert guide.answer("Run the baseline").action == Action("baseline")


def test_slash_commands_turn_into_actions(project) -> None:
    guide = Guide(project)
    assert guide.answer("/baseline").action == Action("split"), "no split yet: the baseline needs one first"
    write_split(project)
    assert guide.answer("/baseline").action == Action("baseline")
    assert guide.answer("/cost").action == Action("cost")
    assert guide.answer("/train").action == Action("train")
    assert guide.answer("/chat").action == Action("open", "Chat")
    assert guide.answer("/open dataset").action == Action("open", "Dataset")
    assert guide.answer("/eval").action is None, "nothing to evaluate without a finished run"


def test_unknown_command_and_unknown_view_are_answered_not_dead_ends(project) -> None:
    guide = Guide(project)
    unknown = guide.answer("/frobnicate")
    assert "/help" in " ".join(unknown.says)
    assert unknown.question
    view = guide.answer("/open Nowhere")
    assert "Dataset, Cost, Train, Evaluate, Export, Chat" in " ".join(view.says)


def test_help_lists_every_command(project) -> None:
    turn = Guide(project).answer("/help")
    listed = [row[0] for row in turn.cards[0].rows]
    for command in ("/baseline", "/data", "/cost", "/train", "/eval", "/chat", "/status", "/help"):
        assert command in listed


def test_free_text_goes_to_the_assistant_when_one_is_configured(project) -> None:
    guide = Guide(project, assistant="openai:gpt-4o-mini")
    turn = guide.answer("Why is my validation loss going up?")
    assert turn.action == Action("ask", "Why is my validation loss going up?")
    context = guide.assistant_context()
    assert "Dataset: next" in context and "/baseline" in context
    reply = guide.finished(turn.action, StepResult(True, {"answer": "It is overfitting; see /open Train."}))
    assert reply.says[0] == "It is overfitting; see /open Train."
    assert reply.question, "after the answer the guide asks its question again"


def test_a_failed_step_says_why_and_offers_a_retry(project) -> None:
    write_split(project)
    guide = Guide(project)
    turn = guide.finished(Action("baseline"), StepResult(False, title="No local model configured", hint="Set [models] local."))
    assert "No local model configured" in turn.says[0]
    assert "Set [models] local." in turn.says
    assert [choice.command for choice in turn.choices] == ["/baseline", "/model", "/help"], "the model is the usual cause"
    assert guide.answer("1").action == Action("baseline")


def test_a_finished_check_shows_findings_with_their_lines(project) -> None:
    write_imported(project, examples(12))
    guide = Guide(project)
    data = {
        "examples": 12,
        "errors": [],
        "warnings": [{"line": 4, "code": "duplicate", "message": "Same as line 2.", "hint": "Delete one."}],
        "tokens": {"total": 900},
    }
    turn = guide.finished(Action("check"), StepResult(True, data, summary="Checked."))
    card = turn.cards[0]
    assert card.kind == "findings"
    assert card.rows == (("4", "warning", "duplicate", "Same as line 2."),)
    assert "1 warnings" in card.title
    assert "/split" in [choice.command for choice in turn.choices]
    assert guide.answer("yes").action == Action("split")


def test_a_started_run_offers_to_watch_it(project) -> None:
    write_split(project)
    turn = Guide(project).finished(Action("train"), StepResult(True, {"run_id": "r1"}, summary="Run r1 started."))
    assert "quit whenever you like" in " ".join(turn.says)
    assert turn.choices[0].command == "/open Train"


def test_status_shows_every_step_and_the_runs(finished_project) -> None:
    turn = Guide(finished_project).answer("/status")
    rows = dict(turn.cards[0].rows)
    assert [rows[name] for name in ("Baseline", "Dataset", "Cost", "Train", "Evaluate")] == ["done"] * 5
    assert rows["run 20261123-120000-abcd"] == "succeeded, step 15/40"
