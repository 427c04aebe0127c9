"""The verdict sentence: what the comparison shows, never more than its 95 % interval allows.

With a judge, the tuned model wins only when the whole win-rate interval lies above 0.5; without
one, only when the whole interval of the paired difference in the primary metric lies above 0.
Otherwise the honest answer is "no clear difference", and then the prompt is the cheaper choice.
Below SMALL_SAMPLE examples a bootstrap interval is itself shaky, and the sentence says so.

People's blind review leads once they voted on `people_needed(examples)` held-out examples: the
same SMALL_SAMPLE (30) below which any interval here is called shaky, or every held-out example
when there are fewer (the demo's 22). Before that the verdict says how many are still missing.
"""

from __future__ import annotations

from typing import Protocol

from tuneui.core.metrics import METRIC_TITLES
from tuneui.core.review_stats import HumanResult

SMALL_SAMPLE = 30


class Tally(Protocol):
    """What a verdict reads of the judge's result (`tuneui.core.judge.JudgeResult`); no import of it,
    so the app can word a verdict without loading the judge's dependencies."""

    wins: int
    ties: int
    losses: int
    win_rate: float
    ci95: tuple[float, float]


def judge_verdict(variant: str, judge: Tally) -> str:
    n = judge.wins + judge.ties + judge.losses
    lo, hi = judge.ci95
    interval = f"win rate {judge.win_rate:.2f} [{lo:.2f}, {hi:.2f}]"
    if lo > 0.5:
        sentence = f"tuned beats the {variant} prompt on {judge.wins} of {n} held-out examples, {interval}"
    elif hi < 0.5:
        sentence = (
            f"the {variant} prompt beats tuned on {judge.losses} of {n} held-out examples, {interval}: keep the prompt"
        )
    else:
        sentence = (
            f"no clear difference: keep the prompt (tuned wins {judge.wins}, ties {judge.ties}, "
            f"loses {judge.losses} of {n} against the {variant} prompt, {interval})"
        )
    return sentence + _small_sample_caveat(n)


def metric_verdict(
    variant: str, metric: str, tuned: float, baseline: float, difference: float, ci95: tuple[float, float], n: int
) -> str:
    title = METRIC_TITLES.get(metric, metric)
    numbers = (
        f"{title} {tuned:.2f} vs {baseline:.2f} on {n} held-out examples, "
        f"difference {difference:+.2f} [{ci95[0]:+.2f}, {ci95[1]:+.2f}]"
    )
    if ci95[0] > 0:
        sentence = f"tuned beats the {variant} prompt: {numbers}"
    elif ci95[1] < 0:
        sentence = f"the {variant} prompt beats tuned: {numbers}; keep the prompt"
    else:
        sentence = f"no clear difference: keep the prompt ({numbers})"
    return sentence + _small_sample_caveat(n)


def _small_sample_caveat(n: int) -> str:
    if n >= SMALL_SAMPLE:
        return ""
    return f"; only {n} held-out examples, so read this as a hint and hold out more to be sure"


def people_needed(examples: int) -> int:
    """Held-out examples people must have voted on before their result leads the verdict."""
    return min(examples, SMALL_SAMPLE)


def human_verdict(variant: str, human: HumanResult) -> str:
    """People's result in the judge's words: a win only when the whole interval is above 0.5."""
    lo, hi = human.ci95
    n = human.votes
    interval = f"win rate {human.win_rate:.2f} [{lo:.2f}, {hi:.2f}]"
    if lo > 0.5:
        sentence = f"tuned beats the {variant} prompt in people's blind review: preferred in {human.tuned_wins} of {n} votes, {interval}"
    elif hi < 0.5:
        sentence = (
            f"the {variant} prompt beats tuned in people's blind review: preferred in {human.baseline_wins} of {n} votes, "
            f"{interval}: keep the prompt"
        )
    else:
        sentence = (
            f"no clear difference in people's blind review: keep the prompt (tuned better {human.tuned_wins}, "
            f"ties {human.ties}, baseline better {human.baseline_wins} of {n} votes against the {variant} prompt, {interval})"
        )
    return sentence + _small_sample_caveat(human.examples_reviewed)


def lead_verdict(machine: str, variant: str, human: HumanResult | None) -> str:
    """The verdict with people's review: theirs leads once enough examples have votes, the judge's
    or the metrics' verdict beside it; before that, the machine verdict and what is still missing.
    Without a vote it is `machine` unchanged."""
    if human is None:
        return machine
    needed = people_needed(human.examples)
    if human.examples_reviewed >= needed:
        return f"{human_verdict(variant, human)}. Beside it, by the judge or the metrics: {machine}"
    missing = needed - human.examples_reviewed
    return (
        f"{machine}. People's blind review: {human.examples_reviewed} of the {needed} examples it needs have votes; "
        f"{missing} more before their result leads this verdict"
    )
