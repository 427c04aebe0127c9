"""What kind of task the answers describe: a small label set, strict JSON, or free text.

The task type chooses the evaluation metrics and whether the split is stratified.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Literal, Sequence

from tuneui.core.dataset.model import Example

TaskType = Literal["classification", "json", "freetext"]

MAX_LABELS = 20  # more distinct answers than this is no longer a label set a person would name
MAX_LABEL_WORDS = 4


def detect_task_type(examples: Sequence[Example]) -> TaskType:
    """"json" when every answer parses as a JSON object or array; "classification" when the answers
    are a few short labels that repeat; else "freetext"."""
    answers = [(example.answer or "").strip() for example in examples]
    answers = [answer for answer in answers if answer]
    if not answers:
        return "freetext"
    if all(_is_json_document(answer) for answer in answers):
        return "json"
    return "classification" if is_label_set(answers) else "freetext"


def is_label_set(answers: Sequence[str]) -> bool:
    """Few distinct short answers, each used more than once on average."""
    labels = Counter(answer.strip().casefold() for answer in answers)
    return (
        len(labels) <= MAX_LABELS
        and len(labels) * 2 <= len(answers)
        and all(len(label.split()) <= MAX_LABEL_WORDS for label in labels)
    )


def _is_json_document(text: str) -> bool:
    if text[:1] not in "{[":
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
