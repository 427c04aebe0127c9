"""People's votes in `tuneui eval RUN --json`, the verdict and both reports."""

from __future__ import annotations

import json

from tuneui.cli import main
from tuneui.core.review import Vote
from tuneui.steps.report import write_report
from tuneui.steps.review import open_review

from tests.evaluate.evalkit import TICKETS, fair_judge, label_of, make_finished_run, question_of

BEFORE_KEYS = ["run_id", "split", "examples", "metrics", "comparison", "stopped_on_their_own", "judge", "verdict", "rules"]
HUMAN_KEYS = ["votes", "tuned_wins", "baseline_wins", "ties", "win_rate", "ci95", "reviewers", "position_a_rate", "judge_agreement"]
MACHINE = "tuned beats the zero-shot prompt: accuracy (label extracted) 1.00 vs 0.33"


def _answer(model, conversation):
    if conversation[0]["content"].startswith("You are a strict, impartial evaluator"):
        return fair_judge(model, conversation)
    question = question_of(conversation)
    if question not in dict(TICKETS):
        return "Paris."
    return label_of(question) if model.kind == "adapter" else "question"


def _eval_json(project, run_id, capsys, *extra):
    capsys.readouterr()
    code = main(["--project", str(project.root), "eval", run_id, "--json", "--no-forgetting", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _vote(project, run_id, outcomes, reviewer="ann"):
    """`outcomes[i]` is what the reviewer thinks of pair i: the tuned answer better, worse, or a tie."""
    review = open_review(project, run_id)
    layout = review.store.layout_for(review.pairs, seed=3)
    votes = []
    for pair, outcome in zip(review.pairs, outcomes):
        tuned = layout.tuned_side[pair.key]
        other = "B" if tuned == "A" else "A"
        votes.append(Vote(pair.key, reviewer, {"win": tuned, "loss": other, "tie": "tie"}[outcome], tuned, 1.0))
    review.store.add(votes)


def test_with_no_votes_only_human_null_is_new(ticket_project, scripted, capsys) -> None:
    scripted.answer = staticmethod(_answer)
    run_id = make_finished_run(ticket_project)
    out = _eval_json(ticket_project, run_id, capsys)
    assert list(out) == BEFORE_KEYS + ["human"] and out["human"] is None
    assert out["verdict"].startswith(MACHINE) and "people" not in out["verdict"]


def test_votes_reach_eval_json_and_the_verdict_says_how_many_are_missing(ticket_project, scripted, capsys) -> None:
    scripted.answer = staticmethod(_answer)
    run_id = make_finished_run(ticket_project)
    _eval_json(ticket_project, run_id, capsys)
    _vote(ticket_project, run_id, ["win", "win", "tie"])
    out = _eval_json(ticket_project, run_id, capsys)
    human = out["human"]
    assert list(human) == HUMAN_KEYS
    assert (human["votes"], human["tuned_wins"], human["baseline_wins"], human["ties"]) == (3, 2, 0, 1)
    assert human["win_rate"] == round(2.5 / 3, 4) and human["reviewers"] == {"ann": 3}
    assert human["judge_agreement"] is None, "no judge ran"
    assert out["verdict"].startswith(MACHINE)
    assert "3 of the 6 examples it needs have votes; 3 more before their result leads this verdict" in out["verdict"]


def test_once_every_example_has_votes_people_lead_with_the_judge_beside(ticket_project, scripted, capsys) -> None:
    scripted.answer = staticmethod(_answer)
    run_id = make_finished_run(ticket_project)
    _eval_json(ticket_project, run_id, capsys, "--judge", "scripted:judge")
    # The fair judge: tuned (always right) beats the base model ("question") except on the 2 questions: ties.
    judge = json.loads((ticket_project.run_dir(run_id) / "eval" / "result.json").read_text())["judge_detail"]["outcomes"]
    assert sorted(judge) == ["tie", "tie", "win", "win", "win", "win"]
    _vote(ticket_project, run_id, ["win"] * 6)
    out = _eval_json(ticket_project, run_id, capsys, "--judge", "scripted:judge")
    assert out["human"]["judge_agreement"] == {"percent": round(100 * 4 / 6, 2), "kappa": 0.0}
    assert out["human"]["ci95"] == [1.0, 1.0]
    assert out["verdict"].startswith("tuned beats the zero-shot prompt in people's blind review: preferred in 6 of 6 votes")
    assert "Beside it, by the judge or the metrics: tuned beats the zero-shot prompt on 4 of 6" in out["verdict"]


def test_both_reports_carry_the_votes_given_after_the_evaluation_escaped(ticket_project, scripted, capsys) -> None:
    scripted.answer = staticmethod(_answer)
    run_id = make_finished_run(ticket_project)
    _eval_json(ticket_project, run_id, capsys, "--judge", "scripted:judge")
    _vote(ticket_project, run_id, ["win", "loss", "tie", "win", "win", "win"], reviewer="<b>eve|x</b>")
    files = write_report(ticket_project, run_id)
    markdown, html = files.markdown.read_text(), files.html.read_text()
    assert "## People's blind review" in markdown and "<h2>People&#x27;s blind review</h2>" in html
    assert "| &lt;b&gt;eve\\|x&lt;/b&gt; | 6 |" in markdown and "<b>eve" not in markdown
    assert "<td>&lt;b&gt;eve|x&lt;/b&gt;</td>" in html and "<b>eve" not in html
    assert "**Verdict:** no clear difference in people's blind review: keep the prompt" in markdown
    assert "Where people and the judge disagree" in markdown
