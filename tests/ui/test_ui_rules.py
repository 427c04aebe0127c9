"""Task rules in the guide and the Evaluate view: pass rates on the cards, in the guide's words,
and a per-example pass/fail column."""

from __future__ import annotations

import json

from textual.widgets import DataTable, Static

from tuneui.app import create_app
from tuneui.guide.machine import Action, Guide
from tuneui.guide.cards import card_for
from tuneui.viewmodels.cards import rules_sentence
from tuneui.guide.runner import StepResult

SIGN_OFF = {"passed": 1, "total": 2, "by_rule": {"sign-off": 1, "next-step": 2}}
ALL_PASS = {"passed": 2, "total": 2, "by_rule": {"sign-off": 2, "next-step": 2}}
BASELINE_JSON = {
    "variants": {"zero-shot": {"rouge_l": 0.2}, "3-shot": {"rouge_l": 0.3}},
    "primary_metric": "rouge_l",
    "best": "3-shot",
    "rules": {"zero-shot": {"passed": 0, "total": 2, "by_rule": {"sign-off": 0, "next-step": 1}}, "3-shot": SIGN_OFF},
}
EVAL_JSON = {
    "metrics": {"baseline": {"rouge_l": 0.31}, "tuned": {"rouge_l": 0.52}},
    "judge": None,
    "verdict": "tuned beats the 3-shot prompt",
    "rules": {"baseline": SIGN_OFF, "tuned": ALL_PASS},
}


def test_the_baseline_card_has_a_rules_column_and_the_guide_says_the_best_prompts_rate(project) -> None:
    card = card_for("baseline", BASELINE_JSON)
    assert card.columns == ("prompt", "rouge_l", "rules passed")
    assert card.rows == (("zero-shot", "0.200", "0/2 (0 %)"), ("3-shot", "0.300", "1/2 (50 %)"))
    assert rules_sentence("baseline", BASELINE_JSON) == "Task rules: the 3-shot prompt's answers pass them all 1/2 (50 %)."
    without = {key: value for key, value in BASELINE_JSON.items() if key != "rules"}
    assert card_for("baseline", {**without, "rules": None}).columns == ("prompt", "rouge_l")
    assert rules_sentence("baseline", {**without, "rules": None}) == ""


def test_the_eval_card_shows_every_rule_for_baseline_and_tuned(project) -> None:
    turn = Guide(project).finished(Action("eval"), StepResult(True, EVAL_JSON, summary="verdict"))
    rows = turn.cards[0].rows
    assert ("rules passed (all)", "1/2 (50 %)", "2/2 (100 %)") in rows
    assert ("rule sign-off", "1/2 (50 %)", "2/2 (100 %)") in rows
    assert ("rule next-step", "2/2 (100 %)", "2/2 (100 %)") in rows
    assert rules_sentence("eval", EVAL_JSON) == (
        "Task rules: the tuned model's answers pass them all 2/2 (100 %), the best prompt's 1/2 (50 %)."
    )


async def test_the_evaluate_view_marks_each_answer_pass_or_fail(finished_project) -> None:
    result_file = next(finished_project.runs_dir.glob("*/eval/result.json"))
    result = json.loads(result_file.read_text())
    result["rules"] = {"baseline": SIGN_OFF, "tuned": ALL_PASS}
    result["differing"][0]["rules_failed"] = {"baseline": ["sign-off", "[bold]x"], "tuned": []}
    result["differing"][1]["rules_failed"] = {"baseline": [], "tuned": []}
    result_file.write_text(json.dumps(result))
    app = create_app(finished_project)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert [str(c.label) for c in table.columns.values()][-1] == "rules base → tuned"
        assert str(table.get_row_at(0)[-1]) == "fail → pass" and str(table.get_row_at(1)[-1]) == "pass → pass"
        # A rule name is shown literally, never read as markup.
        assert "broke: sign-off, [bold]x" in str(app.screen.query_one("#eval-baseline", Static).render())
        assert "passes every task rule" in str(app.screen.query_one("#eval-tuned", Static).render())


async def test_an_evaluation_without_rules_has_no_rules_column(finished_project) -> None:
    app = create_app(finished_project)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        assert len(app.screen.query_one(DataTable).columns) == 3


def test_the_guide_says_the_pass_rates_after_each_step(project, monkeypatch) -> None:
    from tuneui.guide.runner import StepRunner

    replies = {"baseline": BASELINE_JSON, "eval": EVAL_JSON}
    monkeypatch.setattr(StepRunner, "run_command", lambda self, args, **kw: StepResult(True, replies[args[0]]))
    runner = StepRunner(project)
    assert runner.baseline().summary.endswith("Task rules: the 3-shot prompt's answers pass them all 1/2 (50 %).")
    assert runner.evaluate("r1").summary == (
        "tuned beats the 3-shot prompt. Task rules: the tuned model's answers pass them all 2/2 (100 %), the best prompt's 1/2 (50 %)."
    )
