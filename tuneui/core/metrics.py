"""Answer metrics by task type: exact/normalized match, labels, JSON agreement, token F1, ROUGE-L.

Every metric is computed per example (so two models can be compared example by example and a
paired interval drawn), then averaged; macro-F1 and the length ratio only exist over a whole set.
Pure Python, no downloads: it runs offline and gives the same number on every machine.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

TASK_TYPES = ("classification", "json", "freetext")

# The metric that decides "better" for a task type: it must exist per example (paired bootstrap).
PRIMARY_METRIC = {"classification": "accuracy", "json": "json_value_f1", "freetext": "rouge_l"}

# Shown in tables and docs; the order is the order of the report's columns.
METRIC_TITLES = {
    "accuracy": "accuracy (label extracted)",
    "macro_f1": "macro-F1",
    "json_parse_rate": "JSON parse rate",
    "json_key_f1": "JSON key F1",
    "json_value_f1": "JSON key/value F1",
    "token_f1": "token F1",
    "rouge_l": "ROUGE-L",
    "exact_match": "exact match",
    "normalized_match": "normalized match",
    "length_ratio": "length ratio",
}


@dataclass(frozen=True)
class MetricReport:
    """Scores of one model's answers on one split. `per_example[i]` holds example i's scores."""

    task_type: str
    values: Mapping[str, float]
    per_example: tuple[Mapping[str, float], ...] = field(default=())

    @property
    def primary(self) -> str:
        return PRIMARY_METRIC[self.task_type]

    def column(self, name: str) -> list[float]:
        return [scores[name] for scores in self.per_example]


def normalize(text: str) -> str:
    """Lowercase, drop punctuation and symbols, collapse whitespace: what "the same answer" means."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in folded)
    return " ".join(kept.split())


def tokens(text: str) -> list[str]:
    return normalize(text).split()


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when equal after trimming surrounding whitespace only."""
    return float(prediction.strip() == reference.strip())


def normalized_match(prediction: str, reference: str) -> float:
    return float(normalize(prediction) == normalize(reference))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style F1 over the multiset of normalized words; two empty answers agree fully."""
    predicted, expected = tokens(prediction), tokens(reference)
    if not predicted or not expected:
        return float(predicted == expected)
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 (beta = 1): longest common subsequence of normalized words."""
    predicted, expected = tokens(prediction), tokens(reference)
    if not predicted or not expected:
        return float(predicted == expected)
    common = lcs_length(predicted, expected)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Crochemore et al. 2001).

    One big-integer step per word of `a` instead of len(b) Python steps: 30-130x faster than the
    textbook dynamic programme on 50- to 300-word answers (bench/evaluate_metrics.py).
    Bit j of `row` is set where the best alignment ending at b[j] grows the subsequence.
    """
    positions: dict[str, int] = {}
    for j, word in enumerate(b):
        positions[word] = positions.get(word, 0) | (1 << j)
    row = 0
    for word in a:
        x = positions.get(word, 0) | row
        row = x & ~(x - ((row << 1) | 1))
    return bin(row).count("1")


def extract_label(prediction: str, labels: Sequence[str]) -> str | None:
    """The label a free-text answer names: the whole answer if it is a label, else the first label
    mentioned as whole words (the longest one where several start at the same place), else None."""
    text = normalize(prediction)
    by_form = {normalize(label): label for label in labels if normalize(label)}
    if text in by_form:
        return by_form[text]
    best: tuple[int, int, str] | None = None
    for form, label in by_form.items():
        match = re.search(rf"(?<!\w){re.escape(form)}(?!\w)", text)
        if match:
            rank = (match.start(), -len(form), label)
            if best is None or rank < best:
                best = rank
    return best[2] if best else None


def macro_f1(predicted: Sequence[str | None], expected: Sequence[str]) -> float:
    """Unweighted mean of per-label F1 over every label that occurs in either list.

    An answer naming no label (None) is a miss for its true label and a false alarm for none.
    """
    label_set = sorted(set(expected) | {p for p in predicted if p is not None})
    if not label_set:
        return 0.0
    scores = []
    for label in label_set:
        hits = sum(1 for p, e in zip(predicted, expected) if p == label and e == label)
        claimed = sum(1 for p in predicted if p == label)
        actual = sum(1 for e in expected if e == label)
        scores.append(2 * hits / (claimed + actual) if claimed + actual else 0.0)
    return sum(scores) / len(scores)


def parse_json(text: str) -> tuple[bool, Any]:
    """Strict: what `json.loads` accepts after trimming whitespace. A Markdown fence is a failure,
    because the program reading the model's output would fail on it too."""
    try:
        return True, json.loads(text.strip())
    except (ValueError, RecursionError):
        return False, None


def json_fields(value: Any, prefix: str = "") -> dict[str, str]:
    """Leaf fields as path -> canonical JSON text: {"a": {"b": [1]}} -> {"a.b[0]": "1"}."""
    if isinstance(value, dict):
        if not value:
            return {prefix: "{}"}
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(json_fields(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        if not value:
            return {prefix: "[]"}
        out = {}
        for position, item in enumerate(value):
            out.update(json_fields(item, f"{prefix}[{position}]"))
        return out
    return {prefix: json.dumps(value, sort_keys=True)}


def json_agreement(prediction: Any, reference: Any) -> tuple[float, float]:
    """(key F1, key/value F1) between two parsed JSON values, over their leaf fields."""
    predicted, expected = json_fields(prediction), json_fields(reference)
    key_f1 = _set_f1(set(predicted), set(expected))
    value_f1 = _set_f1(set(predicted.items()), set(expected.items()))
    return key_f1, value_f1


def _set_f1(predicted: set[Any], expected: set[Any]) -> float:
    if not predicted and not expected:
        return 1.0
    return 2 * len(predicted & expected) / (len(predicted) + len(expected))


def score_answers(
    task_type: str, predictions: Sequence[str], references: Sequence[str], labels: Sequence[str] = ()
) -> MetricReport:
    """Score `predictions` against `references` with the metrics of `task_type`.

    `labels` is the label set for classification (the distinct answers of the whole dataset);
    when empty, the distinct references are used.
    """
    if task_type not in TASK_TYPES:
        raise ValueError(f"unknown task type {task_type!r}")
    if len(predictions) != len(references):
        raise ValueError("one prediction per reference")
    label_set = list(labels) or sorted(set(references))
    per_example: list[dict[str, float]] = []
    extracted: list[str | None] = []
    for prediction, reference in zip(predictions, references):
        scores = {
            "exact_match": exact_match(prediction, reference),
            "normalized_match": normalized_match(prediction, reference),
        }
        if task_type == "classification":
            label = extract_label(prediction, label_set)
            extracted.append(label)
            scores["accuracy"] = float(label is not None and normalize(label) == normalize(reference))
        elif task_type == "json":
            parsed, value = parse_json(prediction)
            _, expected = parse_json(reference)
            key_f1, value_f1 = json_agreement(value, expected) if parsed else (0.0, 0.0)
            scores.update(json_parse_rate=float(parsed), json_key_f1=key_f1, json_value_f1=value_f1)
        else:
            scores.update(token_f1=token_f1(prediction, reference), rouge_l=rouge_l(prediction, reference))
        per_example.append(scores)
    values = _means(per_example)
    if task_type == "classification":
        canonical = {normalize(label): label for label in label_set}
        expected_labels = [canonical.get(normalize(r), r) for r in references]
        values["macro_f1"] = macro_f1(extracted, expected_labels)
    values["length_ratio"] = length_ratio(predictions, references)
    ordered = {name: values[name] for name in METRIC_TITLES if name in values}
    return MetricReport(task_type, ordered, tuple(per_example))


def length_ratio(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Words answered per word expected, over the whole set (1.0 = as long as the references).

    A ratio of totals, not a mean of ratios: one one-word reference cannot dominate it."""
    expected = sum(len(r.split()) for r in references)
    answered = sum(len(p.split()) for p in predictions)
    return answered / expected if expected else float(answered == 0)


def _means(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {name: sum(row[name] for row in rows) / len(rows) for name in rows[0]}
