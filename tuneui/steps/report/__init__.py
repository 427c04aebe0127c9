"""Evaluation reports: `reports/<run-id>.md` and `reports/<run-id>.html` for an evaluated run.

`inputs` gathers what a report shows from disk; `markdown` and `html` render it and import only
`inputs`, so writing lives here, above all three.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tuneui.core.files import atomic_write_text
from tuneui.core.workspace import Workspace
from tuneui.steps.report.html import render_html
from tuneui.steps.report.inputs import gather
from tuneui.steps.report.markdown import render_markdown


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path


def write_report(workspace: Workspace, run_id: str) -> ReportFiles:
    """Write both report files for an evaluated run and return their paths."""
    inputs = gather(workspace, run_id)
    markdown = workspace.reports_dir / f"{run_id}.md"
    html = workspace.reports_dir / f"{run_id}.html"
    atomic_write_text(markdown, render_markdown(inputs))
    atomic_write_text(html, render_html(inputs))
    return ReportFiles(markdown, html)
