"""The sidebar: the steps by name, each with its state."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tuneui.guide.state import StepState
from tuneui.steps.step_table import STEPS

MARKS: dict[str, tuple[str, str]] = {
    "done": ("✓", "green"),
    "next": ("▶", "bold yellow"),
    "running": ("●", "bold cyan"),
    "attention": ("!", "bold red"),
    "todo": ("·", "dim"),
}


class StepList(Static):
    """The steps in order, each with a mark, the key of its view and a word for its state."""

    def show(self, states: dict[str, StepState]) -> None:
        text = Text()
        for step in STEPS:
            state = states.get(step.name, "todo")
            mark, style = MARKS[state]
            text.append(f" {mark} ", style=style)
            text.append(f"{step.name:<9}", style="bold" if state in ("next", "running") else "")
            text.append(f"{step.key.upper():>3}\n", style="dim")
            text.append(f"   {state}\n", style=style)
        self.update(text)
