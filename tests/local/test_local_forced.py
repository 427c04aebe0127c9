"""Greedy answers proven by forcing (backends.local.forced) are the answers generation gives, on the
real embedded model: proven where the expectation is the model's own answer, generated where not."""

from __future__ import annotations

import pytest

from tests.evaluate.evalkit import SYSTEM, TICKETS

pytestmark = pytest.mark.integration

# The guard as `tuneui eval` sets it (a smaller n, so that it bans something), and a cap that one
# answer runs to.
PARAMS = {"max_new_tokens": 32, "no_repeat_ngram_size": 3}
QUESTIONS = [
    "I was charged twice for March.",
    "Write a long, detailed story about a bicycle that talks, with many chapters.",
    TICKETS[2][0],
]


def test_answers_are_proven_where_they_are_the_models_own_and_generated_anew_where_not(embedded_model, monkeypatch):
    from backends.local.cpu_share import share

    with share().busy():  # as the export worker runs: its share of the cores beside other torch processes
        _prove_and_replace(embedded_model, monkeypatch)


def _prove_and_replace(embedded_model, monkeypatch) -> None:
    from backends.local.forced import greedy_answers
    from backends.local.inference import _LoadedModel

    loaded = _LoadedModel({"base_model": str(embedded_model), "kind": "base"})
    conversations = [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}] for q in QUESTIONS]
    answers, ended = loaded.generate(conversations, PARAMS)
    assert any(ended) and not all(ended)  # both kinds of answer: one that stops, one cut at the cap

    generate_calls: list[int] = []
    real_generate = loaded.model.generate
    monkeypatch.setattr(loaded.model, "generate", lambda **kw: generate_calls.append(kw["input_ids"].shape[0]) or real_generate(**kw))
    forced, forced_ended, proven = greedy_answers(loaded, conversations, PARAMS, answers)
    assert (forced, forced_ended) == (answers, ended)
    assert proven == sum(ended)  # every answer that stopped was proven by one forward pass
    assert sum(generate_calls) <= len(answers) - proven  # one cut at the cap is continued from its end

    # Expectations that are not the model's answers: each is replaced by its own greedy answer,
    # generated from the tokens it agrees with (none, half an answer), all in one batch.
    generate_calls.clear()
    wrong = ["billing", answers[1][: len(answers[1]) // 2] + " and then the moon", "no"]
    forced, forced_ended, proven = greedy_answers(loaded, conversations, PARAMS, wrong)
    assert (forced, forced_ended) == (answers, ended)
    assert proven == sum(a == w and e for a, w, e in zip(answers, wrong, ended))
    assert len(generate_calls) == 1 and generate_calls[0] == len(answers) - proven
