"""The guide picks the card for a result (`tuneui.guide.cards`); the view models build it."""

from __future__ import annotations

from tuneui.guide.cards import card_for
from tuneui.viewmodels import cards


def test_a_steps_result_gets_the_card_its_row_names_and_anything_else_its_values() -> None:
    baseline = card_for("baseline", {"variants": {"zero-shot": {"rouge_l": 0.2}}, "best": "zero-shot"})
    assert baseline.title == "Baseline to beat: zero-shot" and baseline.columns == ("prompt", "rouge_l")
    assert card_for("split", {"train": 9, "val": 3}).title == cards.split_card({"train": 9, "val": 3}).title
    assert card_for("something new", {"a": 1}) == cards.key_values_card({"a": 1})
