"""A step's name, key and command are written once, in `tuneui.steps.step_table`, and read from there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tuneui.steps.step_table import ROWS, STEPS, VIEWS

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "tuneui" / "steps" / "step_table.py"


def _holds_command(text: str, command: str) -> bool:
    return re.search(rf"(?<![\w/.]){re.escape(command)}(?![\w/.-])", text) is not None


def _written_elsewhere() -> list[str]:
    """Every string literal outside the table that is a row's name or key, or holds its command."""
    found = []
    for path in sorted([*(ROOT / "tuneui").rglob("*.py"), *(ROOT / "backends").rglob("*.py")]):
        if path == TABLE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            for row in ROWS:
                if node.value == row.name or (row.key and node.value.lower() == row.key) or _holds_command(node.value, row.command):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    return found


def test_names_keys_and_commands_live_only_in_the_table() -> None:
    assert _written_elsewhere() == []


def test_the_scan_sees_a_command_in_prose_but_not_in_a_path() -> None:
    assert _holds_command("Type /train to start one.", "/train")
    assert _holds_command("app.guide('/cost')", "/cost")
    assert not _holds_command("runs/1/eval/result.json", "/eval")
    assert not _holds_command("/training", "/train")


def test_every_command_is_in_help_and_every_view_has_its_key() -> None:
    from tuneui.app import TuneApp
    from tuneui.guide.machine import COMMANDS

    assert [row.command for row in ROWS] == list(COMMANDS)[: len(ROWS)]
    bound = {binding.key: binding.action for binding in TuneApp.BINDINGS}
    assert all(bound[view.key] == f"open_view({view.name!r})" for view in VIEWS if view.key)
    assert [step.name for step in STEPS] == ["Baseline", "Dataset", "Cost", "Train", "Evaluate", "Export"]
