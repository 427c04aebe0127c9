"""Text from users, files and providers made safe to show in the app: never read as Rich markup, and
with its control characters made visible (`tuneui.core.visible`).

An example holding `[/bold]` must not crash a view, `[red]…` must keep its brackets, and
`ESC ] 0 ; TITLE BEL` must not retitle the terminal. Every widget that shows such text takes it
through `literal()` (a `rich.text.Text`, which Textual never parses as markup). No Textual here.
"""

from __future__ import annotations

from rich.text import Text

from tuneui.core.visible import LAYOUT, restore_controls, visible

__all__ = ["LAYOUT", "literal", "restore_controls", "visible"]


def literal(text: object, style: str = "", keep: str = LAYOUT) -> Text:
    """What a widget shows for `text`: exactly its characters, control characters made visible."""
    return Text(visible(str(text), keep), style=style)
