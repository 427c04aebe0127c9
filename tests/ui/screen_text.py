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
