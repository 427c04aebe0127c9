"""Editing one example: a text box per message, saved with ctrl+s, dropped with Esc."""

from __future__ import annotations

import json
from typing import Any

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


class ExampleModal(ModalScreen[list[Any] | None]):
    """Dismisses with the new contents of the messages, in order, or None when cancelled.

    Control characters are shown as symbols (an ESC must not reach the terminal) and put back on
    save, so an unchanged message keeps its exact text. A content that is no string (text parts,
    the null of a tool call) is shown as its JSON, read-only, and saved as it was."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, example: Example) -> None:
        super().__init__()
        self.example = example
        self.originals = [message.get("content") for message in example.messages]

    def compose(self) -> ComposeResult:
        with Vertical(id="example-box") as box:
            box.border_title = f"Example at line {self.example.line}" if self.example.line else "New example"
            with VerticalScroll():
                for position, (message, original) in enumerate(zip(self.example.messages, self.originals)):
                    text = isinstance(original, str)
                    role = f"{message.get('role', '?')}{'' if text else ' (not plain text: kept as it is)'}"
                    yield Label(literal(role, keep=""), classes="role")
                    shown = original if text else json.dumps(original, ensure_ascii=False)
                    yield MessageArea(visible(shown), id=f"message-{position}", soft_wrap=True, read_only=not text, classes="message-edit")
        yield Footer()

    def on_mount(self) -> None:
        self.query(MessageArea).first().focus()

    def contents(self) -> list[Any]:
        areas = self.query(MessageArea)
        return [restore_controls(area.text, original) if isinstance(original, str) else original for area, original in zip(areas, self.originals)]

    def has_unsaved_edit(self) -> bool:
        return self.contents() != self.originals

    def action_save(self) -> None:
        self.dismiss(self.contents())

    def action_cancel(self) -> None:
        self.dismiss(None)
