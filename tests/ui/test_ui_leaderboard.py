"""The Evaluate view's leaderboard: the candidates side by side, as the last step recorded them."""

from __future__ import annotations

import json

from textual.widgets import Static

from tuneui.app import create_app
from tuneui.viewmodels.cards import leaderboard_card

ROWS = [
    {"rank": 1, "model": "local:~/.cache/tuneui/models/SmolLM2-135M-Instruct", "kind": "run", "variant": None, "run": "20261207-1",
     "split": "current", "metric": "rouge_l", "value": 0.41, "vs_best_baseline": 0.12, "ci95": [0.05, 0.2],
     "rule_pass_rate": 0.75, "stopped_on_their_own_rate": 1.0, "train_seconds": 90.0, "dollars": 0.0, "note": ""},
    {"rank": 2, "model": "local:./tiny-[red]x", "kind": "baseline", "variant": "3-shot", "run": None,
     "split": "current", "metric": "rouge_l", "value": 0.29, "vs_best_baseline": 0.0, "ci95": [0.0, 0.0],
     "rule_pass_rate": 0.5, "stopped_on_their_own_rate": 0.5, "train_seconds": None, "dollars": None, "note": ""},
    {"rank": None, "model": "local:other", "kind": "run", "variant": None, "run": "20261101-9", "split": "other",
     "metric": "rouge_l", "value": None, "vs_best_baseline": None, "ci95": None, "rule_pass_rate": None,
     "stopped_on_their_own_rate": None, "train_seconds": 60.0, "dollars": None, "note": "trained on another split"},
]  # fmt: skip
ADVICE = "Carry on with local:SmolLM2 (run 20261207-1): it beats local:tiny, beyond noise."


def test_the_card_names_each_candidate_and_marks_the_other_split() -> None:
    card = leaderboard_card(ROWS, ADVICE)
    assert card.title == ADVICE
    assert card.rows[0][:5] == ("1", "local:SmolLM2-135M-Instruct", "20261207-1", "0.410", "+0.120 [+0.050, +0.200]")
    assert card.rows[1][2] == "3-shot" and card.rows[1][5:] == ("50 %", "50 %")
    assert card.rows[2][0] == "—" and card.rows[2][2] == "20261101-9 (other split)"


async def test_the_evaluate_view_shows_the_leaderboard_literally(finished_project) -> None:
    finished_project.reports_dir.mkdir(exist_ok=True)
    (finished_project.reports_dir / "leaderboard.json").write_text(json.dumps({"metric": "rouge_l", "rows": ROWS, "advice": ADVICE}))
    app = create_app(finished_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        shown = str(app.screen.query_one("#eval-compare", Static).render())
        assert shown.startswith(ADVICE)
        assert "SmolLM2-135M-Instruct" in shown and "local:tiny-[red]x" in shown  # a name is data, never markup
        assert "(other split)" in shown


async def test_one_candidate_alone_shows_no_leaderboard(finished_project) -> None:
    finished_project.reports_dir.mkdir(exist_ok=True)
    (finished_project.reports_dir / "leaderboard.json").write_text(json.dumps({"rows": ROWS[:1], "advice": "x"}))
    app = create_app(finished_project)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        assert app.screen.query_one("#eval-compare", Static).display is False


def test_the_guide_says_which_model_to_carry_on_with_once_two_have_scores(workspace) -> None:
    from tuneui.viewmodels.cards import compare_sentence

    assert compare_sentence(workspace) == ""  # nothing compared yet
    workspace.reports_dir.mkdir(exist_ok=True)
    board = workspace.reports_dir / "leaderboard.json"
    board.write_text(json.dumps({"rows": ROWS[:1] + ROWS[2:], "advice": "only one"}))
    assert compare_sentence(workspace) == ""  # one model scored; the other split's run never counts
    board.write_text(json.dumps({"rows": ROWS, "advice": ADVICE}))
    assert compare_sentence(workspace) == ADVICE
    board.write_text("{not json")
    assert compare_sentence(workspace) == ""
