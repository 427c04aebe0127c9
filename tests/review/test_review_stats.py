"""People's result from a fixed vote set, against values computed by hand."""

from __future__ import annotations

from math import factorial

import pytest

from tuneui.core.intervals import bootstrap_mean_ci
from tuneui.core.review import Pair, Vote
from tuneui.core.review_stats import cohen_kappa, human_result
from tuneui.core.verdict import lead_verdict, people_needed

PEOPLE = ["win"] * 6 + ["tie", "loss", "loss", "loss"]
JUDGE = ["win", "win", "win", "win", "tie", "loss", "tie", "loss", "loss", "win"]
TUNED_SIDE = ["A", "B"] * 5


def _pairs(judge=JUDGE, count=10) -> list[Pair]:
    return [Pair(i, i + 1, f"question {i}", f"ref {i}", f"tuned {i}", f"base {i}", judge[i] if judge else None) for i in range(count)]


def _choice(outcome: str, tuned: str) -> str:
    other = "B" if tuned == "A" else "A"
    return {"win": tuned, "loss": other, "tie": "tie"}[outcome]


def _votes(pairs, outcomes=PEOPLE, reviewer="ann") -> list[Vote]:
    return [Vote(p.key, reviewer, _choice(o, TUNED_SIDE[p.index]), TUNED_SIDE[p.index], float(p.index)) for p, o in zip(pairs, outcomes)]


def _exact_bootstrap_quantiles(wins: int, ties: int, losses: int) -> tuple[float, float]:
    """The 2.5 % and 97.5 % points of the exact bootstrap distribution of the mean score, by
    enumerating every multinomial draw: what the seeded 2,000 resamples must land on."""
    n = wins + ties + losses
    probability: dict[float, float] = {}
    for w in range(n + 1):
        for t in range(n + 1 - w):
            l = n - w - t
            ways = factorial(n) / (factorial(w) * factorial(t) * factorial(l))
            p = ways * (wins / n) ** w * (ties / n) ** t * (losses / n) ** l
            mean = round((w + t / 2) / n, 10)
            probability[mean] = probability.get(mean, 0.0) + p
    cumulative, low, high = 0.0, None, None
    for mean in sorted(probability):
        cumulative += probability[mean]
        if low is None and cumulative >= 0.025:
            low = mean
        if high is None and cumulative >= 0.975:
            high = mean
    return low, high


def test_win_rate_interval_and_kappa_equal_the_hand_computed_values() -> None:
    pairs = _pairs()
    human = human_result(pairs, _votes(pairs), seed=0)
    assert (human.votes, human.tuned_wins, human.baseline_wins, human.ties) == (10, 6, 3, 1)
    assert human.win_rate == pytest.approx((6 + 1 / 2) / 10)  # 0.65: a tie is half a win
    # Exact bootstrap: P(mean <= 0.30) = 0.0145, P(mean <= 0.35) = 0.0300; P(mean <= 0.85) = 0.9461,
    # P(mean <= 0.90) = 0.9839. So the 95 % percentile interval is [0.35, 0.90], with room to spare.
    assert _exact_bootstrap_quantiles(6, 1, 3) == (0.35, 0.9)
    assert human.ci95 == pytest.approx((0.35, 0.9))
    # One reviewer: exactly the judge's method over the per-vote scores.
    assert human.ci95 == bootstrap_mean_ci([1, 1, 1, 1, 1, 1, 0.5, 0, 0, 0], seed=0)
    # Agreement with the judge: examples 0-3, 6, 7 and 8 match: 7 of 10.
    # Chance: people win .6 tie .1 loss .3; judge win .5 tie .2 loss .3 -> .30 + .02 + .09 = .41.
    assert human.agreement_percent == pytest.approx(70.0)
    assert human.kappa == pytest.approx((0.7 - 0.41) / (1 - 0.41))  # 0.4915
    # A picked on examples 0, 2, 4, 7, 9; B on 1, 3, 5, 8; the tie is left out.
    assert human.position_a_rate == pytest.approx(5 / 9)
    assert [(d.line, d.people, d.judge) for d in human.disagreements] == [(5, "win", "tie"), (6, "win", "loss"), (10, "loss", "win")]
    assert human.summary() == {
        "votes": 10, "tuned_wins": 6, "baseline_wins": 3, "ties": 1, "win_rate": 0.65, "ci95": [0.35, 0.9],
        "reviewers": {"ann": 10}, "position_a_rate": 0.5556,
        "judge_agreement": {"percent": 70.0, "kappa": 0.4915},
    }  # fmt: skip


def test_cohen_kappa_of_a_textbook_table() -> None:
    # 50 items: both yes 20, both no 15, yes/no 5, no/yes 10 -> po 0.7, pe 0.5*0.6 + 0.5*0.4 = 0.5, kappa 0.4.
    ratings = [("y", "y")] * 20 + [("n", "n")] * 15 + [("y", "n")] * 5 + [("n", "y")] * 10
    assert cohen_kappa(ratings) == pytest.approx(0.4)
    assert cohen_kappa([("win", "win")] * 4) is None  # chance alone predicts every match: undefined


def test_without_a_judge_there_is_no_agreement_and_nobody_voting_is_none() -> None:
    pairs = _pairs(judge=None)
    assert human_result(pairs, []) is None
    human = human_result(pairs, _votes(pairs))
    assert human.summary()["judge_agreement"] is None and human.disagreements == ()


def test_a_later_vote_replaces_an_earlier_one_and_skips_are_not_votes() -> None:
    pairs = _pairs()
    first = Vote(pairs[0].key, "ann", "A", "A", 1.0)
    changed = Vote(pairs[0].key, "ann", "B", "A", 2.0)
    skipped = Vote(pairs[1].key, "ann", "skip", "B", 3.0)
    human = human_result(pairs, [first, changed, skipped])
    assert (human.votes, human.tuned_wins, human.baseline_wins) == (1, 0, 1)


def test_votes_on_answers_that_changed_since_are_not_counted() -> None:
    pairs = _pairs()
    votes = _votes(pairs)
    rerun = [Pair(p.index, p.line, p.request, p.reference, p.tuned + " (new)", p.baseline, p.judge) for p in pairs[:3]] + pairs[3:]
    assert human_result(rerun, votes).votes == 7


def test_several_reviewers_are_counted_each_and_resampled_by_example() -> None:
    pairs = _pairs(count=4)
    votes = _votes(pairs, ["win", "win", "loss", "tie"], "ann") + _votes(pairs[:2], ["win", "loss"], "bob")
    human = human_result(pairs, votes)
    assert human.reviewers == {"ann": 4, "bob": 2}
    assert (human.votes, human.examples_reviewed) == (6, 4)
    assert human.win_rate == pytest.approx((3 + 0.5) / 6)


def test_the_verdict_waits_for_enough_examples_then_people_lead() -> None:
    machine = "no clear difference: keep the prompt (ROUGE-L 0.52 vs 0.31 ...)"
    assert people_needed(22) == 22 and people_needed(500) == 30
    pairs = _pairs(count=10)
    partial = human_result(pairs, _votes(pairs[:4], ["win"] * 4))
    assert lead_verdict(machine, "3-shot", None) == machine
    waiting = lead_verdict(machine, "3-shot", partial)
    assert waiting.startswith(machine) and "4 of the 10 examples it needs have votes; 6 more" in waiting
    every = human_result(pairs, _votes(pairs, ["win"] * 10))
    led = lead_verdict(machine, "3-shot", every)
    assert led.startswith("tuned beats the 3-shot prompt in people's blind review: preferred in 10 of 10 votes, win rate 1.00")
    assert led.endswith(f"Beside it, by the judge or the metrics: {machine}")
    against = human_result(pairs, _votes(pairs, ["loss"] * 10))
    assert lead_verdict(machine, "3-shot", against).startswith("the 3-shot prompt beats tuned in people's blind review")
    mixed = human_result(pairs, _votes(pairs))
    assert lead_verdict(machine, "3-shot", mixed).startswith("no clear difference in people's blind review: keep the prompt")
