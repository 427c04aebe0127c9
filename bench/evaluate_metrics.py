"""ROUGE-L's longest common subsequence: the shipped bit-parallel version against the textbook
dynamic programme, measured in the same run on the same answers. Prints the speed-up ratio.

    python bench/evaluate_metrics.py [WORDS] [PAIRS]
"""

from __future__ import annotations

import random
import sys
import time

from tuneui.core.metrics import lcs_length


def textbook_lcs(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for item in a:
        current = [0]
        for j, other in enumerate(b):
            current.append(previous[j] + 1 if item == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def main() -> None:
    words = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    rng = random.Random(0)
    vocabulary = [f"w{i}" for i in range(400)]
    data = [(rng.choices(vocabulary, k=words), rng.choices(vocabulary, k=words)) for _ in range(pairs)]
    start = time.perf_counter()
    expected = [textbook_lcs(a, b) for a, b in data]
    reference = time.perf_counter() - start
    start = time.perf_counter()
    got = [lcs_length(a, b) for a, b in data]
    shipped = time.perf_counter() - start
    assert got == expected, "the bit-parallel LCS disagrees with the textbook one"
    print(f"{pairs} pairs of {words}-word answers: textbook {reference * 1000:.1f} ms, "
          f"shipped {shipped * 1000:.1f} ms, speed-up {reference / shipped:.0f}x")


if __name__ == "__main__":
    main()
