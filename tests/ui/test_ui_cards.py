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


def test_hosted_and_local_rows_put_their_notes_under_them_whole_where_the_column_would_be_narrow() -> None:
    # The Cost step's card of a fresh project at 80x24 (found walking one): the OpenAI model's name
    # left the notes about ten columns, and "fine-tuning" and dates were cut in the middle.
    card = Card(
        title="Training cost by backend",
        kind="table",
        columns=("backend", "model", "cost", "notes"),
        rows=(
            ("local", "SmolLM2-135M-Instruct", "—", "2.0 GiB lora; fits in free RAM; 0.01 h; No NVIDIA GPU: the trainer runs LoRA in fp32"),
            ("openai", "gpt-4o-mini-2024-07-18", "$0.02", f"6,170 tokens over 5 epochs; prices as of 2026-11-23; {NOTE}"),
        ),
    )
    drawn = _drawn(card, 51)  # what the card's table gets beside the sidebar at 80x24
    lines = drawn.splitlines()
    assert any("openai" in line and "gpt-4o-mini-2024-07-18" in line and "$0.02" in line for line in lines), drawn
    words = drawn.split()
    for word in ("fine-tuning", "2027-01-06", "2026-11-23;", "accepting"):
        assert word in words, drawn
    assert max(len(line.rstrip()) for line in lines) <= 51
    wide = _drawn(card, 120)  # with room, one row a line, the notes in their column
    assert any("openai" in line and "accepting" in line for line in wide.splitlines()), wide


def test_a_clean_check_says_so_instead_of_drawing_an_empty_table() -> None:
    from tuneui.viewmodels.cards import findings_card

    card = findings_card({"examples": 24, "errors": [], "warnings": [], "tokens": {"total": 1475}})
    drawn = _drawn(card, 51)
    assert card.title == "24 examples · 0 errors · 0 warnings · 1,475 tokens"
    assert "No problems found" in drawn and "message" not in drawn, drawn
