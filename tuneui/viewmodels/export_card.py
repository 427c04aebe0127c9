"""The Export card: what `tuneui export RUN --json` wrote, what it checked and the commands to use it."""

from __future__ import annotations

from typing import Any, Mapping

from tuneui.steps.export.checks import CHECK_NAMES, describe
from tuneui.viewmodels.cards import Card, one_line



def export_rows(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Checks (with their numbers), files, the hosted model and notes: (what, detail) rows."""
    rows: list[tuple[str, str]] = []
    for name, check in dict(data.get("checks") or {}).items():
        check = dict(check) if isinstance(check, Mapping) else {}
        rows.append(("passed" if check.get("ok") else "FAILED", f"{CHECK_NAMES.get(name, name)}: {describe(name, check)}"))
    rows += [("file", str(file)) for file in data.get("files") or []]
    hosted = data.get("hosted")
    if isinstance(hosted, Mapping):
        rows.append(("hosted", f"{hosted.get('provider', '')}: {hosted.get('model_id', '')}"))
    rows += [("note", str(note)) for note in data.get("notes") or []]
    return rows


def export_commands(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(tool, command) for each way to use the export; a hosted run's call."""
    commands = [(str(name), str(command)) for name, command in dict(data.get("commands") or {}).items()]
    hosted = data.get("hosted")
    if isinstance(hosted, Mapping) and hosted.get("python"):
        commands.append(("python", str(hosted["python"])))
    return commands


def export_card(data: Mapping[str, Any]) -> Card:
    rows = export_rows(data)
    failed = sum(1 for what, _ in rows if what == "FAILED")
    title = f"Exported run {data.get('run_id', '?')} to {data.get('folder', '?')}" + (f": {failed} checks FAILED" if failed else "")
    shown = rows + [(name, one_line(command, 160)) for name, command in export_commands(data)]
    return Card(title=title, kind="table", columns=("", "detail"), rows=tuple(shown[:12]), more=max(0, len(shown) - 12))
