"""The Export card: what `tuneui export RUN --json` wrote, what it checked and the commands to use it."""

from __future__ import annotations

from typing import Any, Mapping

from tuneui.steps.export.checks import CHECK_NAMES, describe
from tuneui.viewmodels.cards import Card, one_line



def export_rows(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for name, check in dict(data.get("checks") or {}).items():
        check = dict(check) if isinstance(check, Mapping) else {}
        rows.append(("check", f"{'passed' if check.get('ok') else 'FAILED'}: {CHECK_NAMES.get(name, name)}", describe(name, check)))
    for file in data.get("files") or []:
        rows.append(("file", str(file), ""))
    for name, command in dict(data.get("commands") or {}).items():
        rows.append(("command", str(name), one_line(str(command), 200)))
    hosted = data.get("hosted")
    if isinstance(hosted, Mapping):
        rows.append(("hosted", str(hosted.get("provider", "")), str(hosted.get("model_id", ""))))
    for note in data.get("notes") or []:
        rows.append(("note", "", str(note)))
    return rows


def export_card(data: Mapping[str, Any]) -> Card:
    rows = export_rows(data)
    failed = sum(1 for kind, what, _ in rows if kind == "check" and what.startswith("FAILED"))
    title = f"Exported run {data.get('run_id', '?')} to {data.get('folder', '?')}" + (f": {failed} checks FAILED" if failed else "")
    shown = [row for row in rows if row[0] != "command"][:10] + [row for row in rows if row[0] == "command"]
    return Card(title=title, kind="table", columns=("", "what", "detail"), rows=tuple(shown[:12]), more=max(0, len(rows) - 12))
