"""A card in the conversation: a small table, or a list of findings with their line."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tuneui.viewmodels.cards import Card
from tuneui.widgets.literal import literal

KIND_STYLE = {"error": "bold red", "warning": "yellow"}
# A border title is one line and is cut where the card ends: a longer title (an evaluation's
# verdict) is written inside the card, where it wraps, at 80 columns as at 200.
BORDER_TITLE_MAX = 44
LEADING_COLUMN_MAX = 22


class CardView(Vertical):
    """Draws one `Card`; rows beyond the card's limit are counted, the full view shows them."""

    def __init__(self, card: Card) -> None:
        super().__init__(classes=f"card card-{card.kind}")
        self.card = card
        self.long_title = len(card.title) > BORDER_TITLE_MAX
        self.border_title = "" if self.long_title else literal(card.title, keep="")

    def compose(self) -> ComposeResult:
        if self.long_title:
            yield Static(literal(self.card.title, style="bold"), classes="card-title")
        yield Static(self._table())
        if self.card.more:
            yield Static(f"… and {self.card.more} more (the full view lists them all)", classes="card-more")

    def _table(self) -> Table:
        show_header = any(self.card.columns)
        table = Table(show_header=show_header, box=None, padding=(0, 1), expand=True, header_style="bold")
        for position, column in enumerate(self.card.columns):
            last = position == len(self.card.columns) - 1
            # The last column (notes, messages) wraps; the others are cut with an ellipsis at
            # LEADING_COLUMN_MAX so that a long model path cannot squeeze the notes to a word a line.
            table.add_column(
                literal(column, keep=""),
                overflow="fold" if last else "ellipsis",
                ratio=3 if last else None,
                no_wrap=not last,
                max_width=None if last else LEADING_COLUMN_MAX,
            )
        for row in self.card.rows:
            cells = [literal(cell, style=KIND_STYLE.get(cell, "")) for cell in row]
            table.add_row(*cells)
        return table
