"""The full views by name: what F2..F6, `/open VIEW` and the command palette open."""

from __future__ import annotations

from textual.screen import Screen

from tuneui.core.workspace import Workspace
from tuneui.steps.step_table import by_name, load


def create(name: str, workspace: Workspace) -> Screen:
    # Imported when opened: each view pulls in widgets the first screen does not need, keeping start-up fast.
    row = by_name(name)
    if row is None or not row.view:
        raise ValueError(f"no view named {name!r}")
    return load(row.view)(workspace)
