"""The verdict sentence: what the comparison shows, never more than its 95 % interval allows.

With a judge, the tuned model wins only when the whole win-rate interval lies above 0.5; without
one, only when the whole interval of the paired difference in the primary metric lies above 0.
Otherwise the honest answer is "no clear difference", and then the prompt is the cheaper choice.
Below SMALL_SAMPLE examples a bootstrap interval is itself shaky, and the sentence says so.
"""

from __future__ import annotations

from tuneui.core.judge import JudgeResult
from tuneui.core.metrics import METRIC_TITLES

SMALL_SAMPLE = 30


def judge_verdict(variant: str, judge: JudgeResult) -> str:
    n = len(judge.outcomes)
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
