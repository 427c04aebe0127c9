"""The Cost step's record: `reports/cost.json`, the comparison of every configured backend.

`tuneui estimate` writes it when it compares the backends on the project's own split, whether it
runs headless or as the guide's step; the guide, the Cost view and the reports only read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from tuneui.core.files import atomic_write_json
from tuneui.core.workspace import Workspace

COST_REPORT = "cost.json"


def cost_report_path(workspace: Workspace) -> Path:
    return workspace.reports_dir / COST_REPORT


def save_cost_report(workspace: Workspace, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Record one estimate row per backend (a row with `error` for one that cannot be estimated)."""
    report = {"rows": [dict(row) for row in rows]}
    atomic_write_json(cost_report_path(workspace), report)
    return report
