"""The screen of a Pilot-driven app as plain text, the way a person at the terminal reads it."""

from __future__ import annotations

import io

from rich.console import Console
from textual.app import App


def screen_text(app: App) -> str:
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False,
                      force_terminal=True, color_system="truecolor", safe_box=False)  # fmt: skip
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def talk_text(app: App, sidebar: int = 20) -> str:
    """The conversation side of the main screen as one line: wrapped sentences read whole."""
    lines = screen_text(app).splitlines()[1:-1]
    return " ".join(" ".join(line[sidebar:].split()) for line in lines if line[sidebar:].strip())


def conversation_text(app: App) -> str:
    """Everything said in the conversation so far, scrolled out of view or not, one line each."""
    from tuneui.widgets.cards import CardView
    from tuneui.widgets.conversation import Conversation

    conversation = app.screen_stack[0].query_one(Conversation)
    return "\n".join(str(child.render()) for child in conversation.children if not isinstance(child, CardView))


def region_text(app: App, widget) -> str:
    """The words a widget shows on screen, its border left out, wrapped lines joined."""
    lines = screen_text(app).splitlines()
    region = widget.region
    rows = [line[region.x : region.x + region.width] for line in lines[region.y : region.y + region.height]]
    return " ".join(" ".join(row.strip("│╭╮╰╯─ ").split()) for row in rows if row.strip("│╭╮╰╯─ "))


def assert_fits(app: App) -> None:
    """Nothing cut at this size: every footer label whole, every step named whole in the sidebar,
    every card's title whole (a short one on its border, a long one wrapped inside the card)."""
    from tuneui.steps.step_table import STEPS
    from tuneui.widgets.cards import CardView

    lines = screen_text(app).splitlines()
    footer = lines[-1]
    for active in app.active_bindings.values():
        if active.binding.show:
            assert active.binding.description in footer, f"{active.binding.description!r} is cut from the footer: {footer!r}"
    if type(app.screen).__name__ == "MainScreen":
        sidebar = "\n".join(line[:20] for line in lines)
        for step in STEPS:
            assert f" {step.name} " in sidebar or f" {step.name}\n" in sidebar, f"{step.name} is cut in the sidebar"
        for card in app.screen.query(CardView):
            if card.region.height and not card.long_title:
                assert len(card.card.title) + 4 <= card.region.width, f"card title {card.card.title!r} does not fit"
