"""The conversation with the guide: what it says, what the user typed, and cards inline.

Everything in it may quote a file, the user or a provider, so all of it is shown through `literal()`.
"""

from __future__ import annotations

from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from tuneui.guide.machine import Choice, Turn
from tuneui.widgets.literal import literal
from tuneui.messages import ChoiceMade
from tuneui.widgets.cards import CardView


class Conversation(VerticalScroll):
    """Append-only; scrolls to the newest line."""

    can_focus = False

    def add_user(self, text: str) -> None:
        self.mount(Static(literal(f"› {text}"), classes="said-user"))
        self.scroll_end(animate=False)

    def add_turn(self, turn: Turn) -> None:
        widgets = turn_widgets(turn)
        if widgets:
            self.mount_all(widgets)
        # After the new lines are laid out: scrolling now would stop at the old end.
        self.call_after_refresh(self.scroll_end, animate=False)


def turn_widgets(turn: Turn) -> list[Static | CardView]:
    """What a turn looks like: its lines, its cards, then its question."""
    widgets: list[Static | CardView] = [Static(literal(line), classes="said-guide") for line in turn.says]
    widgets += [CardView(card) for card in turn.cards]
    if turn.question:
        widgets.append(Static(literal(turn.question), classes="said-guide question"))
    return widgets


class ChoiceLabel(Static):
    """One offered answer: its number is what to type; a click picks it too (the mouse is optional)."""

    def __init__(self, position: int, choice: Choice) -> None:
        super().__init__(literal(f" {position}. {choice.label} ", keep=""), classes="choice")
        self.command = choice.command

    def on_click(self) -> None:
        self.post_message(ChoiceMade(self.command))


class ChoiceBar(Horizontal):
    """The answers to the current question; typing 1, 2 or yes picks them too."""

    def show(self, choices: tuple[Choice, ...]) -> None:
        self.remove_children()
        self.mount_all(choice_labels(choices))


def choice_labels(choices: tuple[Choice, ...]) -> list[ChoiceLabel]:
    return [ChoiceLabel(position, choice) for position, choice in enumerate(choices, start=1)]
