"""Seeded percentile-bootstrap confidence intervals: how sure a comparison on n examples can be."""

from __future__ import annotations

import random
from typing import Sequence

RESAMPLES = 2000
CONFIDENCE = 0.95


def bootstrap_mean_ci(
    values: Sequence[float], *, seed: int = 0, resamples: int = RESAMPLES, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of `values`.

    Same values + same seed = same interval, so a report can be reproduced exactly. An empty
    sample has no interval: (nan, nan).
    """
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    rng = random.Random(seed)
    data = list(values)
    means = sorted(sum(rng.choices(data, k=n)) / n for _ in range(resamples))
    tail = (1 - confidence) / 2
    return means[_rank(tail, resamples)], means[_rank(1 - tail, resamples)]


def clustered_mean_ci(
    groups: Sequence[Sequence[float]], *, seed: int = 0, resamples: int = RESAMPLES, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of all values, resampling whole groups.

    Values in one group are not independent (several people's votes on one example), so the
    example, not the vote, is what gets resampled. With one value per group this is exactly
    `bootstrap_mean_ci` of those values (the same draws from the same seed).
    """
    kept = [(sum(group), len(group)) for group in groups if group]
    if not kept:
        return float("nan"), float("nan")
    rng = random.Random(seed)
    n = len(kept)
    means = []
    for _ in range(resamples):
        drawn = rng.choices(kept, k=n)
        means.append(sum(total for total, _ in drawn) / sum(size for _, size in drawn))
    means.sort()
    tail = (1 - confidence) / 2
    return means[_rank(tail, resamples)], means[_rank(1 - tail, resamples)]


def paired_difference_ci(
    tuned: Sequence[float], baseline: Sequence[float], *, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """Mean of tuned[i] - baseline[i] and its bootstrap interval: resampling pairs keeps the
    example-to-example correlation, which makes the interval far tighter than two separate ones."""
    if len(tuned) != len(baseline):
        raise ValueError("paired samples must have the same length")
    differences = [t - b for t, b in zip(tuned, baseline)]
    mean = sum(differences) / len(differences) if differences else float("nan")
    return mean, bootstrap_mean_ci(differences, seed=seed)


def _rank(quantile: float, count: int) -> int:
    return min(count - 1, max(0, round(quantile * (count - 1))))
