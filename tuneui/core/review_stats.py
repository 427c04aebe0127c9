"""What people's votes say: the tuned model's win rate against the baseline, its 95 % interval,
who voted, a position-bias check, and how far people agree with the LLM judge.

- Every counted vote is one reviewer's last word on one pair; skips are not votes.
- Win rate = (tuned wins + ties / 2) / votes, as the judge's: 0.5 means "no difference".
- Its 95 % interval is the same seeded percentile bootstrap as the judge's and the metrics'
  (`tuneui.core.intervals`), resampling examples with all their votes together, since two
  people's votes on one example are not independent; with one reviewer it is exactly the judge's
  method over the per-vote scores 1, 0.5 and 0.
- Position-A rate = votes for A / votes for A or B (ties left out): near 0.5 when the random
  sides do their job; far from it when reviewers favour a position.
- Judge agreement, where the judge ran: each vote's outcome against the judge's outcome for that
  example, as the share that match (percent) and Cohen's kappa over the three outcomes, which
  discounts the agreement two raters would reach by chance. Kappa is None when chance alone
  predicts every match (both raters always give one same outcome).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from tuneui.core.intervals import clustered_mean_ci
from tuneui.core.review import Pair, Vote, latest_votes

OUTCOMES = ("win", "tie", "loss")
# As the judge scores an example (tuneui.core.judge.OUTCOME_SCORE): a tie is half a win.
OUTCOME_SCORE = {"win": 1.0, "tie": 0.5, "loss": 0.0}


@dataclass(frozen=True)
class Disagreement:
    line: int | None
    request: str
    reviewer: str
    people: str  # the vote's outcome for the tuned answer: win, tie, loss
    judge: str


@dataclass(frozen=True)
class HumanResult:
    votes: int
    tuned_wins: int
    baseline_wins: int
    ties: int
    ci95: tuple[float, float]
    reviewers: Mapping[str, int]  # votes by reviewer
    examples_reviewed: int  # held-out examples with at least one vote
    examples: int  # held-out examples in the evaluation
    position_a_rate: float | None
    agreement_percent: float | None
    kappa: float | None
    disagreements: tuple[Disagreement, ...]

    @property
    def win_rate(self) -> float:
        return (self.tuned_wins + self.ties / 2) / self.votes if self.votes else float("nan")

    def summary(self) -> dict[str, Any]:
        """The `human` object of `tuneui eval RUN --json` (an exact interface)."""
        return {
            "votes": self.votes,
            "tuned_wins": self.tuned_wins,
            "baseline_wins": self.baseline_wins,
            "ties": self.ties,
            "win_rate": round(self.win_rate, 4),
            "ci95": [round(self.ci95[0], 4), round(self.ci95[1], 4)],
            "reviewers": dict(self.reviewers),
            "position_a_rate": None if self.position_a_rate is None else round(self.position_a_rate, 4),
            "judge_agreement": (
                None
                if self.agreement_percent is None
                else {"percent": round(self.agreement_percent, 2), "kappa": None if self.kappa is None else round(self.kappa, 4)}
            ),
        }


def human_result(pairs: Sequence[Pair], votes: Sequence[Vote], *, seed: int = 0) -> HumanResult | None:
    """People's result on the current pairs, or None when nobody voted on them yet."""
    by_key = {pair.key: pair for pair in pairs}
    counted = [v for v in latest_votes(votes, list(by_key)).values() if v.outcome is not None]
    if not counted:
        return None
    outcomes = [v.outcome for v in counted]
    per_example: dict[str, list[float]] = {}
    reviewers: dict[str, int] = {}
    for vote in counted:
        per_example.setdefault(vote.key, []).append(OUTCOME_SCORE[str(vote.outcome)])
        reviewers[vote.reviewer] = reviewers.get(vote.reviewer, 0) + 1
    # Examples in val order, so the interval does not depend on the order votes were given.
    groups = [per_example[pair.key] for pair in pairs if pair.key in per_example]
    sided = [v for v in counted if v.choice in ("A", "B")]
    judged = [(v, by_key[v.key]) for v in counted if by_key[v.key].judge in OUTCOMES]
    percent, kappa = _agreement([(str(v.outcome), str(p.judge)) for v, p in judged]) if judged else (None, None)
    disagreements = tuple(
        Disagreement(pair.line, pair.request, vote.reviewer, str(vote.outcome), str(pair.judge))
        for vote, pair in sorted(judged, key=lambda item: (item[1].index, item[0].reviewer))
        if vote.outcome != pair.judge
    )
    return HumanResult(
        votes=len(counted),
        tuned_wins=outcomes.count("win"),
        baseline_wins=outcomes.count("loss"),
        ties=outcomes.count("tie"),
        ci95=clustered_mean_ci(groups, seed=seed),
        reviewers=dict(sorted(reviewers.items())),
        examples_reviewed=len(groups),
        examples=len(pairs),
        position_a_rate=sum(1 for v in sided if v.choice == "A") / len(sided) if sided else None,
        agreement_percent=percent,
        kappa=kappa,
        disagreements=disagreements,
    )


def cohen_kappa(ratings: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters over paired ratings: (observed - chance) / (1 - chance)."""
    n = len(ratings)
    if not n:
        return None
    observed = sum(1 for a, b in ratings if a == b) / n
    categories = {a for a, _ in ratings} | {b for _, b in ratings}
    chance = sum((sum(1 for a, _ in ratings if a == c) / n) * (sum(1 for _, b in ratings if b == c) / n) for c in categories)
    if math.isclose(chance, 1.0):
        return None
    return (observed - chance) / (1 - chance)


def _agreement(ratings: Sequence[tuple[str, str]]) -> tuple[float, float | None]:
    return 100 * sum(1 for a, b in ratings if a == b) / len(ratings), cohen_kappa(ratings)


def summary_lines(human: Mapping[str, Any]) -> list[str]:
    """People's result in words, one fact a line: for the CLI, the reports and the Evaluate view."""
    lo, hi = human["ci95"]
    lines = [
        f"{human['votes']} votes: tuned better {human['tuned_wins']}, baseline better {human['baseline_wins']}, "
        f"tie {human['ties']}; win rate {human['win_rate']:.2f}, 95 % bootstrap interval [{lo:.2f}, {hi:.2f}]",
        "by reviewer: " + ", ".join(f"{name} {count}" for name, count in human["reviewers"].items()),
    ]
    rate = human.get("position_a_rate")
    if rate is not None:
        lines.append(f"position A picked in {rate:.0%} of A/B votes (near 50 % when the sides do not sway people)")
    agreement = human.get("judge_agreement")
    if agreement:
        kappa = "undefined" if agreement["kappa"] is None else f"{agreement['kappa']:.2f}"
        lines.append(f"agreement with the LLM judge: {agreement['percent']:.0f} % of votes, Cohen's kappa {kappa}")
    return lines
