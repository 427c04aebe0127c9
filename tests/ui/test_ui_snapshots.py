"""Snapshots of every screen at 80×24 and 120×40 (a second check after the Pilot tests' state).

Regenerate after a deliberate change with `pytest tests/ui/test_ui_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tuneui.app import create_app

from backends.runs import list_runs

from .conftest import examples, write_export, write_imported, write_run

def _open_still(*keys: str):
    """Press `keys`, then stop every cursor blinking: a blink is drawn or not depending on the moment."""

    async def run_before(pilot) -> None:
        await pilot.press(*keys)
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    return run_before


SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
VIEW_KEYS = {"dataset": "f2", "cost": "f3", "train": "f4", "evaluate": "f5", "chat": "f6", "export": "f7"}


@pytest.mark.parametrize("size", SIZES)
def test_main_screen_snapshot(snap_compare, project, size: str) -> None:
    write_imported(project, examples(25), name="all.jsonl")
    assert snap_compare(create_app(project), terminal_size=SIZES[size], run_before=_open_still())


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("view", VIEW_KEYS)
def test_view_snapshot(snap_compare, finished_project, view: str, size: str) -> None:
    if view == "train":
        losses = [(5, 3.0, 3.1), (10, 2.5, 2.7), (15, 2.1, 2.4), (20, 1.8, 2.3), (25, 1.6, 2.35), (30, 1.4, 2.5)]
        write_run(finished_project, run_id="20261123-140000-cafe", status="running", losses=losses, total_steps=60)
    if view == "export":
        write_export(finished_project, list_runs(finished_project.runs_dir)[-1])
    assert snap_compare(create_app(finished_project), terminal_size=SIZES[size], run_before=_open_still(VIEW_KEYS[view]))
