"""The full views by name: what F2..F6, `/open VIEW` and the command palette open."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

if TYPE_CHECKING:
    from tuneui.app import TuneApp


def create(name: str, app: "TuneApp") -> Screen:
    # Imported here: each view pulls in widgets the first screen does not need, keeping start-up fast.
    if name == "Dataset":
        from tuneui.screens.dataset import DatasetScreen

        return DatasetScreen(app.workspace)
    if name == "Cost":
        from tuneui.screens.cost import CostScreen

        return CostScreen(app.workspace)
    if name == "Train":
        from tuneui.screens.train import TrainScreen

        return TrainScreen(app.workspace)
    if name == "Evaluate":
        from tuneui.screens.evaluate import EvaluateScreen

        return EvaluateScreen(app.workspace)
    if name == "Chat":
        from tuneui.screens.chat import ChatScreen

        return ChatScreen(app.workspace)
    raise ValueError(f"no view named {name!r}")
