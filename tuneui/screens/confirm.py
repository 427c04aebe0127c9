"""A yes/no question before something that cannot be undone: deleting, cancelling, quitting."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tuneui.widgets.literal import literal


class ConfirmModal(ModalScreen[bool]):
    """Dismisses with True on `y`, False on `n` or Esc: the safe answer is the default."""

    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    #confirm-box { width: 60; height: auto; border: round $warning; background: $surface; padding: 1 2; }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(literal(self.question), id="confirm-question")
            yield Static("y yes · n or Esc no", classes="view-note")
        yield Footer()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
