"""The pairwise judge with scripted judges, its interval on known inputs, and the verdicts."""

from __future__ import annotations

import math
import re

import pytest

from tuneui.core.backend import ModelRef
from tuneui.core.intervals import bootstrap_mean_ci, paired_difference_ci
from tuneui.core.judge import combine, parse_choice, parse_model_spec, reason_of, run_judge
from tuneui.core.verdict import judge_verdict, metric_verdict
from tuneui.errors import UsageError

JUDGE = ModelRef(backend="scripted", base_model="judge-model")
PROMPTS = [[{"role": "user", "content": f"question {i}"}] for i in range(10)]
REFERENCES = [f"answer {i}" for i in range(10)]


def _answers_in(conversation) -> tuple[str, str]:
    text = conversation[-1]["content"]
    a = re.search(r"Answer A:\n(.*?)\n\nAnswer B:", text, re.S).group(1)
    b = re.search(r"Answer B:\n(.*?)\n\nWhich answer", text, re.S).group(1)
    return a, b


def _judge(scripted, reply):
    scripted.answer = staticmethod(reply)
    return scripted(None)


def test_a_judge_that_always_prefers_position_a_yields_only_ties(scripted) -> None:
    backend = _judge(scripted, lambda model, conversation: "Winner: A")
    result = run_judge(backend, JUDGE, "task", PROMPTS, REFERENCES, REFERENCES, ["wrong"] * 10)
    assert (result.wins, result.ties, result.losses) == (0, 10, 0)
    assert result.win_rate == 0.5
    assert result.ci95 == (0.5, 0.5)
    assert judge_verdict("3-shot", result).startswith("no clear difference: keep the prompt")
    # Both orders were asked: 20 judge conversations in one generate call.
    assert len(scripted.calls) == 1 and len(scripted.calls[0][1]) == 20


def test_a_fair_judge_counts_wins_and_losses_in_both_orders(scripted) -> None:
    def prefer_reference(model, conversation):
        a, b = _answers_in(conversation)
        if a.startswith("answer"):
            return "Winner: A"
        return "Winner: B" if b.startswith("answer") else "Winner: tie"

    tuned = REFERENCES[:7] + ["wrong"] * 3
    baseline = ["wrong"] * 7 + REFERENCES[7:]
    backend = _judge(scripted, prefer_reference)
    result = run_judge(backend, JUDGE, "task", PROMPTS, REFERENCES, tuned, baseline)
    assert (result.wins, result.ties, result.losses) == (7, 0, 3)
    assert result.win_rate == pytest.approx(0.7)
    assert result.summary() == {
        "model": "judge-model",
        "wins": 7,
        "ties": 0,
        "losses": 3,
        "win_rate": 0.7,
        "ci95": [round(result.ci95[0], 4), round(result.ci95[1], 4)],
    }


def test_a_judge_that_always_prefers_tuned_gives_a_clear_win(scripted) -> None:
    tuned = [f"good {i}" for i in range(10)]

    def prefer_good(model, conversation):
        a, _ = _answers_in(conversation)
        return "Winner: A" if a.startswith("good") else "**Winner:** B"

    result = run_judge(_judge(scripted, prefer_good), JUDGE, "task", PROMPTS, REFERENCES, tuned, ["bad"] * 10)
    assert (result.wins, result.ties, result.losses) == (10, 0, 0)
    assert result.ci95 == (1.0, 1.0)
    assert judge_verdict("3-shot", result) == (
        "tuned beats the 3-shot prompt on 10 of 10 held-out examples, win rate 1.00 [1.00, 1.00]; "
        "only 10 held-out examples, so read this as a hint and hold out more to be sure"
    )


def test_unreadable_judge_replies_count_as_ties_and_are_reported(scripted) -> None:
    backend = _judge(scripted, lambda model, conversation: "I cannot decide.")
    result = run_judge(backend, JUDGE, "task", PROMPTS[:3], REFERENCES[:3], ["x"] * 3, ["y"] * 3)
    assert result.ties == 3 and result.unparsed == 6


def test_the_judge_sees_task_request_reference_and_both_answers(scripted) -> None:
    backend = _judge(scripted, lambda model, conversation: "Winner: tie")
    run_judge(backend, JUDGE, "Be terse.", PROMPTS[:1], ["ref"], ["tuned answer"], ["base answer"])
    first, swapped = scripted.calls[0][1]
    text = first[-1]["content"]
    assert "Be terse." in text and "question 0" in text and "Reference answer:\nref" in text
    assert _answers_in(first) == ("tuned answer", "base answer")
    assert _answers_in(swapped) == ("base answer", "tuned answer")


@pytest.mark.parametrize(
    ("reply", "choice"),
    [
        ("Winner: B", "B"),
        ("**Winner:** tie", "tie"),
        ("winner = a.", "A"),
        ("b", "B"),
        ("Both are fine", None),
        # The reason comes first and may itself say "winner"; the final line decides.
        ("B looked like the winner: B at first, but it misses the refund window.\nWinner: A", "A"),
    ],
)
def test_parse_choice(reply: str, choice) -> None:
    assert parse_choice(reply) == choice


def test_combining_orders() -> None:
    assert combine("A", "B") == "win"  # tuned preferred in both orders
    assert combine("A", "tie") == "win"
    assert combine("A", "A") == "tie"  # position bias cancels
    assert combine("B", "A") == "loss"
    assert combine(None, None) == "tie"


def test_parse_model_spec() -> None:
    assert parse_model_spec("openai:gpt-4o-mini") == ("openai", "gpt-4o-mini")
    assert parse_model_spec("together:meta-llama/Llama-3:8b") == ("together", "meta-llama/Llama-3:8b")
    with pytest.raises(UsageError, match="BACKEND:MODEL"):
        parse_model_spec("gpt-4o")


def _binomial_quantile(n: int, p: float, q: float) -> float:
    total = 0.0
    for k in range(n + 1):
        total += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if total >= q:
            return k / n
    return 1.0


def test_bootstrap_interval_matches_the_binomial_for_a_known_win_rate() -> None:
    # The bootstrap distribution of a mean of 41 ones and 19 zeros is Binomial(60, 41/60) / 60.
    values = [1.0] * 41 + [0.0] * 19
    lo, hi = bootstrap_mean_ci(values, seed=0)
    assert abs(lo - _binomial_quantile(60, 41 / 60, 0.025)) <= 1 / 60 + 1e-9
    assert abs(hi - _binomial_quantile(60, 41 / 60, 0.975)) <= 1 / 60 + 1e-9
    assert lo < 41 / 60 < hi
    assert bootstrap_mean_ci(values, seed=0) == (lo, hi)  # seeded: reproducible


def test_bootstrap_interval_edge_cases() -> None:
    assert bootstrap_mean_ci([0.5] * 20) == (0.5, 0.5)
    assert all(math.isnan(x) for x in bootstrap_mean_ci([]))
    difference, interval = paired_difference_ci([1.0, 1.0, 0.0], [1.0, 1.0, 0.0])
    assert difference == 0.0 and interval == (0.0, 0.0)
    with pytest.raises(ValueError):
        paired_difference_ci([1.0], [])


def test_metric_verdict_never_claims_more_than_the_interval() -> None:
    win = metric_verdict("3-shot", "accuracy", 0.9, 0.6, 0.3, (0.1, 0.5), 40)
    assert win == (
        "tuned beats the 3-shot prompt: accuracy (label extracted) 0.90 vs 0.60 on 40 held-out examples, "
        "difference +0.30 [+0.10, +0.50]"
    )
    unclear = metric_verdict("zero-shot", "rouge_l", 0.55, 0.5, 0.05, (-0.02, 0.12), 40)
    assert unclear.startswith("no clear difference: keep the prompt (ROUGE-L 0.55 vs 0.50")
    loss = metric_verdict("system", "accuracy", 0.4, 0.7, -0.3, (-0.5, -0.1), 40)
    assert loss.startswith("the system prompt beats tuned") and loss.endswith("keep the prompt")


def test_the_reason_is_the_reply_without_its_winner_line() -> None:
    assert reason_of("A names the real refund window; B invents one.\nWinner: A") == (
        "A names the real refund window; B invents one"
    )
    assert reason_of("**Winner:** tie") == ""
