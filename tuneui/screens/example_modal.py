"""Editing one example: a text box per message, saved with ctrl+s, dropped with Esc."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, TextArea

from tuneui.core.dataset.model import Example
from tuneui.widgets.literal import literal, restore_controls, visible


class MessageArea(TextArea):
    """A message's text: a tab typed here is part of the text, as in any editor (moving to the
    next box on tab would send the rest of the typing into another message)."""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "tab" and not self.read_only:
            event.stop()
            event.prevent_default()
            self.insert("\t")
            return
        await super()._on_key(event)


class ExampleModal(ModalScreen[list[str] | None]):
    """Dismisses with the new contents of the messages, in order, or None when cancelled.

    Control characters are shown as symbols (an ESC must not reach the terminal) and put back on
    save, so an unchanged message keeps its exact text."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, example: Example) -> None:
        super().__init__()
        self.example = example
        self.originals = [str(message.get("content") or "") for message in example.messages]

    def compose(self) -> ComposeResult:
        with Vertical(id="example-box") as box:
            box.border_title = f"Example at line {self.example.line}" if self.example.line else "New example"
            with VerticalScroll():
                for position, message in enumerate(self.example.messages):
                    yield Label(literal(message.get("role", "?"), keep=""), classes="role")
                    yield MessageArea(visible(self.originals[position]), id=f"message-{position}", soft_wrap=True, classes="message-edit")
        yield Footer()

    def on_mount(self) -> None:
        self.query(MessageArea).first().focus()

    def contents(self) -> list[str]:
        return [restore_controls(area.text, original) for area, original in zip(self.query(MessageArea), self.originals)]

    def has_unsaved_edit(self) -> bool:
        return self.contents() != self.originals

    def action_save(self) -> None:
        self.dismiss(self.contents())

    def action_cancel(self) -> None:
        self.dismiss(None)
