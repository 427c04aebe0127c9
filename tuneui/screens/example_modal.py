"""Editing one example: a text box per message, saved with ctrl+s, dropped with Esc."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, TextArea

from tuneui.core.dataset.model import Example


class ExampleModal(ModalScreen[list[str] | None]):
    """Dismisses with the new contents of the messages, in order, or None when cancelled."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, example: Example) -> None:
        super().__init__()
        self.example = example

    def compose(self) -> ComposeResult:
        with Vertical(id="example-box") as box:
            box.border_title = f"Example at line {self.example.line}" if self.example.line else "New example"
            with VerticalScroll():
                for position, message in enumerate(self.example.messages):
                    yield Label(str(message.get("role", "?")), classes="role")
                    yield TextArea(str(message.get("content") or ""), id=f"message-{position}", soft_wrap=True, classes="message-edit")
        yield Footer()

    def on_mount(self) -> None:
        self.query(TextArea).first().focus()

    def action_save(self) -> None:
        self.dismiss([area.text for area in self.query(TextArea)])

    def action_cancel(self) -> None:
        self.dismiss(None)
