"""The conversation with the guide: what it says, what the user typed, and cards inline."""

from __future__ import annotations

from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from tuneui.guide import Choice, Turn
from tuneui.messages import ChoiceMade
from tuneui.widgets.cards import CardView


class Conversation(VerticalScroll):
    """Append-only; scrolls to the newest line."""

    can_focus = False

    def add_user(self, text: str) -> None:
        self.mount(Static(f"› {text}", classes="said-user"))
        self.scroll_end(animate=False)

    def add_turn(self, turn: Turn) -> None:
        widgets = [Static(line, classes="said-guide") for line in turn.says]
        widgets += [CardView(card) for card in turn.cards]
        if turn.question:
            widgets.append(Static(turn.question, classes="said-guide question"))
        if widgets:
            self.mount_all(widgets)
        self.scroll_end(animate=False)


class ChoiceBar(Horizontal):
    """The answers to the current question as buttons; typing 1, 2 or yes picks them too."""

    def show(self, choices: tuple[Choice, ...]) -> None:
        self.remove_children()
        self.mount_all(
            Button(f"{position}. {choice.label}", name=choice.command, classes="choice", compact=True)
            for position, choice in enumerate(choices, start=1)
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.name:
            self.post_message(ChoiceMade(event.button.name))
