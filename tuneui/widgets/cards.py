"""A card in the conversation: a small table, or a list of findings with their line."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
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
NOTES_MIN = 24  # the fewest columns a note gets beside its row; below it, it goes under the row


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

    def _table(self) -> "_CardTable":
        return _CardTable(self.card)


class _CardTable:
    """The card's rows as a table where the last column (notes, messages) has room; where it would
    get fewer than NOTES_MIN columns, each row's leading cells on a line and its note below them,
    across the card's width, so that no word is cut in the middle at 80 columns."""

    def __init__(self, card: Card) -> None:
        self.card = card

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        columns = self.card.columns
        widths = [min(LEADING_COLUMN_MAX, max(len(str(cell)) for cell in (name, *(row[i] for row in self.card.rows if i < len(row)))))
                  for i, name in enumerate(columns[:-1])]  # fmt: skip
        room = options.max_width - sum(width + 1 for width in widths)
        if len(columns) < 2 or room >= NOTES_MIN:
            yield self._columns()
            return
        yield self._grid(widths, [literal(name, keep="", style="bold") for name in columns[:-1]])
        for row in self.card.rows:
            yield self._grid(widths, [literal(cell, style=KIND_STYLE.get(cell, "")) for cell in row[:-1]])
            if row[-1:] and row[-1]:
                yield Padding(literal(row[-1], style=KIND_STYLE.get(row[-1], "")), (0, 0, 0, 2))

    @staticmethod
    def _grid(widths: list[int], cells: list[Text]) -> Table:
        grid = Table.grid(padding=(0, 1))
        for width in widths:
            grid.add_column(width=width, no_wrap=True, overflow="ellipsis")
        grid.add_row(*cells)
        return grid

    def _columns(self) -> Table:
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
