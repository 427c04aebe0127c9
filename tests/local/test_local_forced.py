"""Greedy answers proven by forcing (backends.local.forced) are the answers generation gives, on the
real embedded model: proven where the expectation is the model's own answer, generated where not."""

from __future__ import annotations

import pytest

from tests.evaluate.evalkit import SYSTEM, TICKETS

pytestmark = pytest.mark.integration

# The guard as `tuneui eval` sets it, and a cap that lets some answers run to it.
PARAMS = {"max_new_tokens": 48, "no_repeat_ngram_size": 3}
QUESTIONS = [
    "I was charged twice for March.",
    "Write a long, detailed story about a bicycle that talks, with many chapters.",
    TICKETS[2][0],
    "Say nothing but the word yes.",
]


@pytest.fixture(scope="module")
def loaded(embedded_model):
    from backends.local.inference import _LoadedModel

    return _LoadedModel({"base_model": str(embedded_model), "kind": "base"})


def conversations() -> list[list[dict[str, str]]]:
    return [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}] for q in QUESTIONS]


def test_the_models_own_answers_are_proven_without_generating_and_come_back_unchanged(loaded, monkeypatch):
    answers, ended = loaded.generate(conversations(), PARAMS)
    assert any(ended) and not all(ended)  # both kinds of answer: one that stops, one cut at the cap
    generated_again: list[int] = []
    real_generate = loaded.model.generate
    monkeypatch.setattr(loaded.model, "generate", lambda **kw: generated_again.append(1) or real_generate(**kw))

    from backends.local.forced import greedy_answers

    forced, forced_ended, proven = greedy_answers(loaded, conversations(), PARAMS, answers)
    assert (forced, forced_ended) == (answers, ended)
    assert proven == sum(ended)  # every answer that stopped was proven by one forward pass
    # An answer cut at the cap is continued from its last agreed token: nothing, or a few tokens.
    assert len(generated_again) <= len(answers) - proven


def test_answers_that_are_not_the_models_are_replaced_by_its_own_greedy_answers(loaded):
    from backends.local.forced import greedy_answers

    answers, ended = loaded.generate(conversations(), PARAMS)
    wrong = ["billing", answers[1][: len(answers[1]) // 2] + " and then the moon", "", "no"]
    forced, forced_ended, proven = greedy_answers(loaded, conversations(), PARAMS, wrong)
    assert (forced, forced_ended) == (answers, ended)
    assert proven == sum(a == w and e for a, w, e in zip(answers, wrong, ended))
