"""The sidebar: the five steps by name, each with its state."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tuneui.guide.state import STEP_NAMES, StepState

MARKS: dict[str, tuple[str, str]] = {
    "done": ("✓", "green"),
    "next": ("▶", "bold yellow"),
    "running": ("●", "bold cyan"),
    "attention": ("!", "bold red"),
    "todo": ("·", "dim"),
}
KEYS = {"Baseline": "", "Dataset": "F2", "Cost": "F3", "Train": "F4", "Evaluate": "F5"}


class StepList(Static):
    """Baseline, Dataset, Cost, Train, Evaluate, each with a mark and a word for its state."""

    def show(self, states: dict[str, StepState]) -> None:
        text = Text()
        for name in STEP_NAMES:
            state = states.get(name, "todo")
            mark, style = MARKS[state]
            text.append(f" {mark} ", style=style)
            text.append(f"{name:<9}", style="bold" if state in ("next", "running") else "")
            text.append(f"{KEYS[name]:>3}\n", style="dim")
            text.append(f"   {state}\n", style=style)
        self.update(text)
