"""A card's table at 80 columns: a long value in a leading column never squeezes the notes."""

from __future__ import annotations

from rich.console import Console

from tuneui.viewmodels.cards import Card
from tuneui.widgets.cards import CardView

NOTE = "openai stops accepting new fine-tuning jobs on 2027-01-06 (30 days from now)."


def _drawn(card: Card, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(CardView(card)._table())
    return console.export_text()


def test_a_long_model_path_leaves_the_notes_whole_words_at_80_columns() -> None:
    card = Card(
        title="Training cost by backend",
        kind="table",
        columns=("backend", "model", "cost", "notes"),
        rows=(("local", "/root/.cache/tuneui/models/SmolLM2-135M-Instruct-with-a-long-name", "$0.00", NOTE),),
    )
    drawn = _drawn(card, 55)  # the card's width beside the sidebar at 80x24
    words = " ".join(drawn.split())
    assert "fine-tuning" in words and "2027-01-06" in words, drawn
    assert "…" in drawn, "the long path is cut with an ellipsis, not wrapped"
