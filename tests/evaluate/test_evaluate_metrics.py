"""Every metric on crafted examples whose values were worked out by hand."""

from __future__ import annotations

import random

import pytest

from tuneui.core.metrics import (
    exact_match,
    extract_label,
    json_agreement,
    lcs_length,
    length_ratio,
    macro_f1,
    normalize,
    normalized_match,
    parse_json,
    rouge_l,
    score_answers,
    token_f1,
)


def test_exact_match_only_forgives_surrounding_whitespace() -> None:
    assert exact_match("  Paris\n", "Paris") == 1.0
    assert exact_match("Paris.", "Paris") == 0.0


def test_normalized_match_ignores_case_punctuation_and_spacing() -> None:
    assert normalize("  The  ANSWER: Paris! ") == "the answer paris"
    assert normalized_match("Paris.", " paris") == 1.0
    assert normalized_match("Paris, France", "Paris") == 0.0


def test_token_f1_counts_shared_words_as_a_multiset() -> None:
    # 5 of 6 words shared both ways (the, the, cat, on, mat): P = R = 5/6.
    assert token_f1("the cat sat on the mat", "the cat is on the mat") == pytest.approx(5 / 6)
    # Word order does not matter to token F1.
    assert token_f1("a b c d", "a c b d") == 1.0
    # P = 2/2, R = 2/4 -> F1 = 2 * 1 * 0.5 / 1.5 = 2/3.
    assert token_f1("a b", "a b c d") == pytest.approx(2 / 3)
    assert token_f1("", "") == 1.0
    assert token_f1("x", "") == 0.0


def test_rouge_l_rewards_the_longest_common_subsequence_in_order() -> None:
    # LCS "a b d" (or "a c d") = 3 of 4 words each way -> 0.75, where token F1 says 1.0.
    assert rouge_l("a b c d", "a c b d") == pytest.approx(0.75)
    # LCS "police the gunman" = 3; P = R = 3/4.
    assert rouge_l("police killed the gunman", "police kill the gunman") == pytest.approx(0.75)
    # LCS 2; P = 2/2, R = 2/4 -> 2/3.
    assert rouge_l("a b", "a b c d") == pytest.approx(2 / 3)
    assert rouge_l("x y", "a b") == 0.0


def test_rouge_l_subsequence_agrees_with_the_textbook_dynamic_programme() -> None:
    def textbook(a, b):
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
        return table[-1][-1]

    rng = random.Random(0)
    for _ in range(300):
        vocabulary = [f"w{i}" for i in range(rng.randint(1, 12))]
        a = rng.choices(vocabulary, k=rng.randint(0, 25))
        b = rng.choices(vocabulary, k=rng.randint(0, 25))
        assert lcs_length(a, b) == textbook(a, b), (a, b)


def test_label_extraction_from_free_text() -> None:
    labels = ["billing", "bug", "question"]
    assert extract_label("Billing.", labels) == "billing"
    assert extract_label("I think this ticket is a bug report", labels) == "bug"
    assert extract_label("bug, or maybe billing?", labels) == "bug"  # the first one named
    assert extract_label("debugging the billings", labels) is None  # whole words only
    nested = ["very positive", "positive"]
    assert extract_label("It is very positive overall", nested) == "very positive"
    assert extract_label("Positive!", nested) == "positive"


def test_macro_f1_averages_per_label_f1_and_counts_no_label_as_a_miss() -> None:
    # a: 1 hit, 1 claimed, 2 actual -> 2/3.  b: 1 hit, 2 claimed, 2 actual -> 1/2.
    assert macro_f1(["a", "b", "b", None], ["a", "a", "b", "b"]) == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_classification_scores() -> None:
    report = score_answers(
        "classification",
        ["Billing", "It's a bug.", "question?", "no idea"],
        ["billing", "bug", "billing", "question"],
    )
    values = report.values
    assert values["accuracy"] == pytest.approx(0.5)
    # billing: 1 hit, 1 claimed, 2 actual -> 2/3; bug: 1/1/1 -> 1; question: 0 hits -> 0.
    assert values["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert values["exact_match"] == 0.0
    assert values["normalized_match"] == pytest.approx(0.25)
    assert values["length_ratio"] == pytest.approx(7 / 4)  # 1 + 3 + 1 + 2 words for 4
    assert report.primary == "accuracy"
    assert report.column("accuracy") == [1.0, 1.0, 0.0, 0.0]


def test_json_parse_is_strict_about_markdown_fences() -> None:
    assert parse_json(' {"a": 1}\n') == (True, {"a": 1})
    assert parse_json('```json\n{"a": 1}\n```')[0] is False


def test_json_key_and_value_agreement_over_leaf_fields() -> None:
    reference = {"label": "bug", "priority": 2, "tags": ["ui", "crash"]}
    prediction = {"label": "bug", "priority": 3, "tags": ["ui"]}
    key_f1, value_f1 = json_agreement(prediction, reference)
    # Keys: 3 predicted, 4 expected, 3 shared -> 6/7.  Key/values: label and tags[0] -> 4/7.
    assert key_f1 == pytest.approx(6 / 7)
    assert value_f1 == pytest.approx(4 / 7)


def test_json_scores() -> None:
    reference = '{"label": "bug", "priority": 2, "tags": ["ui", "crash"]}'
    report = score_answers(
        "json",
        [
            '{"label": "bug", "priority": 3, "tags": ["ui"]}',
            '```json\n{"label": "bug"}\n```',
            '{"tags": ["ui", "crash"], "priority": 2, "label": "bug"}',
        ],
        [reference] * 3,
    )
    assert report.values["json_parse_rate"] == pytest.approx(2 / 3)
    assert report.values["json_key_f1"] == pytest.approx((6 / 7 + 0 + 1) / 3)
    assert report.values["json_value_f1"] == pytest.approx((4 / 7 + 0 + 1) / 3)
    assert report.values["exact_match"] == 0.0  # key order differs: same data, different text
    assert report.primary == "json_value_f1"


def test_freetext_scores() -> None:
    report = score_answers("freetext", ["the cat sat on the mat", "a b"], ["the cat is on the mat", "a b c d"])
    assert report.values["token_f1"] == pytest.approx((5 / 6 + 2 / 3) / 2)
    assert report.values["rouge_l"] == pytest.approx((5 / 6 + 2 / 3) / 2)
    assert report.values["length_ratio"] == pytest.approx(8 / 10)
    assert list(report.values) == ["token_f1", "rouge_l", "exact_match", "normalized_match", "length_ratio"]


def test_length_ratio_is_a_ratio_of_totals() -> None:
    assert length_ratio(["a b c", ""], ["a b", "c d"]) == pytest.approx(3 / 4)


def test_unknown_task_type_is_refused() -> None:
    with pytest.raises(ValueError):
        score_answers("poetry", ["x"], ["y"])
