"""Task rules in the Baseline and Evaluate steps: JSON, text, saved detail, no model call to re-check."""

from __future__ import annotations

import json

import pytest

from tuneui.cli import main
from tuneui.steps.evaluate import evaluate_run

from tests.evaluate.evalkit import TICKETS, label_of, make_finished_run, question_of

RULES = {"label-only": {"regex": "^(billing|bug|question)$"}, "one-word": {"max_words": 1}}


def _answer(model, conversation):
    """The base model chats ("Probably a bug, I think."); the tuned one gives the bare label, except
    one rambling answer."""
    question = question_of(conversation)
    if question not in dict(TICKETS):
        return "Paris"
    if model.kind == "adapter":
        return "billing, I think" if question == TICKETS[6][0] else label_of(question)
    return f"Probably a {label_of(question)}, I think."


@pytest.fixture
def ruled_project(ticket_project, scripted):
    settings = ticket_project.settings()
    settings.rules = RULES
    ticket_project.save_settings(settings)
    scripted.answer = staticmethod(_answer)
    return ticket_project


def _run_json(project, capsys, *args):
    code = main(["--project", str(project.root), *args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_eval_json_has_the_exact_rules_object(ruled_project, capsys) -> None:
    run_id = make_finished_run(ruled_project)
    out = _run_json(ruled_project, capsys, "eval", run_id)
    assert out["rules"] == {
        "baseline": {"passed": 0, "total": 6, "by_rule": {"label-only": 0, "one-word": 0}},
        "tuned": {"passed": 5, "total": 6, "by_rule": {"label-only": 5, "one-word": 5}},
    }
    detail = json.loads((ruled_project.run_dir(run_id) / "eval" / "result.json").read_text())["rules_detail"]
    # The first held-out ticket (TICKETS[6]) is the one the tuned model rambles on.
    assert detail["failed"]["tuned"] == [["label-only", "one-word"], [], [], [], [], []]
    assert detail["failed"]["baseline"] == [["label-only", "one-word"]] * 6
    assert detail["checks"] == {"label-only": 'matches "^(billing|bug|question)$"', "one-word": "at most 1 word"}
    assert set(detail["variants"]) == {"zero-shot", "system", "3-shot"}


def test_baseline_json_has_rules_per_variant(ruled_project, capsys) -> None:
    out = _run_json(ruled_project, capsys, "baseline", "--backend", "scripted", "--model", "base-model")
    assert set(out["rules"]) == {"zero-shot", "system", "3-shot"}
    assert out["rules"]["system"] == {"passed": 0, "total": 6, "by_rule": {"label-only": 0, "one-word": 0}}


def test_baseline_json_says_null_without_rules(ticket_project, scripted, capsys) -> None:
    scripted.answer = staticmethod(_answer)
    out = _run_json(ticket_project, capsys, "baseline", "--backend", "scripted", "--model", "base-model")
    assert out["rules"] is None


def test_an_edited_rule_is_rechecked_without_asking_a_model_again(ruled_project, scripted) -> None:
    run_id = make_finished_run(ruled_project)
    evaluate_run(ruled_project, run_id, forgetting=False)
    asked = len(scripted.calls)
    settings = ruled_project.settings()
    settings.rules = {"mentions-a-label": {"regex": "billing|bug|question"}}
    ruled_project.save_settings(settings)
    result = evaluate_run(ruled_project, run_id, forgetting=False)
    assert len(scripted.calls) == asked
    assert result.summary()["rules"]["baseline"] == {"passed": 6, "total": 6, "by_rule": {"mentions-a-label": 6}}


def test_text_output_shows_rule_pass_rates(ruled_project, capsys) -> None:
    run_id = make_finished_run(ruled_project)
    assert main(["--project", str(ruled_project.root), "eval", run_id, "--no-forgetting"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "Task rules on 6 answers (an answer passes when it passes every rule):" in lines
    all_rules = next(line for line in lines if line.startswith("all rules"))
    assert all_rules.split() == ["all", "rules", "0/6", "(0", "%)", "5/6", "(83", "%)"]
    assert any(line.startswith("one-word") and "5/6 (83 %)" in line for line in lines)
    assert main(["--project", str(ruled_project.root), "baseline", "--backend", "scripted", "--model", "base-model"]) == 0
    assert "Task rules on 6 answers" in capsys.readouterr().out


def test_a_runaway_regex_stops_the_step_with_a_message_not_a_hang(ruled_project, scripted, capsys) -> None:
    settings = ruled_project.settings()
    settings.rules = {"runaway": {"regex": "^(a|aa)+$"}}
    ruled_project.save_settings(settings)
    scripted.answer = staticmethod(lambda model, conversation: "a" * 200 + "!")
    code = main(["--project", str(ruled_project.root), "baseline", "--backend", "scripted", "--model", "m"])
    err = capsys.readouterr().err
    assert code == 2 and "Rule 'runaway': its regex did not finish" in err and "Traceback" not in err


def test_the_report_shows_rule_pass_rates_per_variant_escaped(ruled_project, capsys) -> None:
    settings = ruled_project.settings()
    settings.rules = {**RULES, "no-markup": {"regex": "^[^<]*$"}}
    ruled_project.save_settings(settings)
    run_id = make_finished_run(ruled_project)
    evaluate_run(ruled_project, run_id, forgetting=False)
    assert main(["--project", str(ruled_project.root), "report", run_id]) == 0
    markdown = (ruled_project.reports_dir / f"{run_id}.md").read_text()
    html = (ruled_project.reports_dir / f"{run_id}.html").read_text()
    assert "## Task rules on the validation split" in markdown
    assert "| rule | check | zero-shot (baseline to beat) | system | 3-shot | tuned |" in markdown
    assert "| every rule | an answer passes all of them | 0/6 (0 %) | 0/6 (0 %) | 0/6 (0 %) | 5/6 (83 %) |" in markdown
    assert "| one-word | at most 1 word | 0/6 (0 %) | 0/6 (0 %) | 0/6 (0 %) | 5/6 (83 %) |" in markdown
    # Where the two differ, each side's broken rules are named.
    assert "| rules broken | baseline: label-only, one-word; tuned: none |" in markdown
    assert "<th>rules broken</th>" in html and "baseline: label-only, one-word; tuned: none" in html
    assert "<h2>Task rules on the validation split</h2>" in html
    assert "matches &quot;^[^&lt;]*$&quot;" in html and "^[^<]" not in html


def test_an_edited_rules_record_leaves_the_section_out_instead_of_failing(ruled_project, capsys) -> None:
    run_id = make_finished_run(ruled_project)
    evaluate_run(ruled_project, run_id, forgetting=False)
    result_file = ruled_project.run_dir(run_id) / "eval" / "result.json"
    result = json.loads(result_file.read_text())
    result["rules_detail"]["variants"]["system"] = "edited"
    result_file.write_text(json.dumps(result))
    assert main(["--project", str(ruled_project.root), "report", run_id]) == 0
    assert "Task rules" not in (ruled_project.reports_dir / f"{run_id}.md").read_text()
