"""The split is reproducible and fair; stats and guidance describe the data as it is."""

from __future__ import annotations

from collections import Counter

import pytest

from tuneui.core import tokens
from tuneui.core.dataset import Example, SplitError, detect_task_type, read_chat_jsonl, split, stats, write_split

from .conftest import chat, many_chats


def examples_of(records) -> list[Example]:
    return [Example(messages=tuple(r["messages"]), line=n, index=n - 1) for n, r in enumerate(records, 1)]


def test_split_is_deterministic_for_a_seed_and_keeps_file_order() -> None:
    data = examples_of(many_chats(100))
    first, again, other = split(data, 0.15, seed=0), split(data, 0.15, seed=0), split(data, 0.15, seed=1)
    assert [e.line for e in first.val] == [e.line for e in again.val]
    assert [e.line for e in first.val] != [e.line for e in other.val]
    assert len(first.val) == 15 and len(first.train) == 85
    assert [e.line for e in first.train] == sorted(e.line for e in first.train)


def test_duplicates_and_same_prompts_land_in_the_same_split() -> None:
    records = many_chats(40)
    records += [records[3]] * 3 + [chat(records[5]["messages"][1]["content"].upper(), "another answer")]
    for seed in range(5):
        result = split(examples_of(records), 0.3, seed=seed)
        val_prompts = {e.user_text.casefold() for e in result.val}
        train_prompts = {e.user_text.casefold() for e in result.train}
        assert not val_prompts & train_prompts


def test_labels_are_stratified() -> None:
    records = [chat(f"Ticket {n}: my order is late", "billing" if n % 4 else "shipping") for n in range(200)]
    result = split(examples_of(records), 0.2, seed=0)
    assert result.stratified
    held = Counter(e.answer for e in result.val)
    assert held == {"billing": 30, "shipping": 10}


def test_split_refuses_too_little_data_with_the_reason() -> None:
    with pytest.raises(SplitError) as few_train:
        split(examples_of(many_chats(11)), 0.15)
    assert "10" in few_train.value.title and few_train.value.exit_code == 1
    with pytest.raises(SplitError) as no_val:
        split(examples_of(many_chats(12)), 0.01)
    assert "no validation" in no_val.value.title


def test_written_split_reads_back_and_is_atomic_chat_jsonl(tmp_path) -> None:
    result = split(examples_of(many_chats(30)), 0.2, seed=0)
    write_split(result, tmp_path / "train.jsonl", tmp_path / "val.jsonl")
    assert [e.messages for e in read_chat_jsonl(tmp_path / "val.jsonl")] == [e.messages for e in result.val]
    assert not list(tmp_path.glob(".*.tmp"))


def test_stats_distributions_per_role_and_guidance() -> None:
    records = [chat("Hi " * n, "Yes") for n in range(1, 21)]
    result = stats(examples_of(records))
    per_example = tokens.count_examples([r["messages"] for r in records])
    assert result.total_tokens == sum(per_example)
    assert (result.tokens.min, result.tokens.max) == (min(per_example), max(per_example))
    assert result.by_role["assistant"].min == result.by_role["assistant"].max
    assert result.by_role["user"].max > result.by_role["user"].min
    assert result.tokens.p5 <= result.tokens.median <= result.tokens.p95
    assert result.task_type == "classification" and result.guidance.category == "automation"
    assert "aim for at least 100" in result.guidance.message
    assert "retrieval" in result.to_json()["retrieval_note"]


@pytest.mark.parametrize(
    ("answers", "kind"),
    [
        (["positive", "negative"] * 10, "classification"),
        (['{"name": "x", "age": 3}', "[1, 2]"] * 5, "json"),
        ([f"A long and unique reply number {n}, written out." for n in range(20)], "freetext"),
        ([], "freetext"),
    ],
)
def test_detect_task_type(answers, kind) -> None:
    assert detect_task_type(examples_of([chat(f"q{n}", a) for n, a in enumerate(answers)])) == kind
