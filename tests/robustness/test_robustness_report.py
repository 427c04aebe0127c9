"""`tuneui report` on hand-edited evaluation files: a message naming the file, or the edit ignored."""

from __future__ import annotations

import json

import pytest

from tuneui.cli import main

from tests.evaluate.conftest import scripted, ticket_project  # noqa: F401 (fixtures)
from tests.evaluate.test_evaluate_report import evaluated_run  # noqa: F401 (fixture)

EDITS = {
    "metrics as text": ("eval/result.json", lambda d: {**d, "metrics": "good"}, "'metrics'"),
    "interval of one": ("eval/result.json", lambda d: {**d, "difference_ci95": [0.1]}, "'difference_ci95'"),
    "variant as list": ("eval/result.json", lambda d: {**d, "variants": {"zero-shot": [1]}}, "'variants'"),
    "no fields at all": ("eval/result.json", lambda d: {key: None for key in d}, "'verdict'"),
    "model_ref as text": ("status.json", lambda d: {**d, "model_ref": "adapter"}, "status.json: its model_ref"),
}


def _report(workspace, run_id, capsys) -> tuple[int, str]:
    code = main(["--project", str(workspace.root), "report", run_id])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unexpectedly" not in err
    return code, err


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_an_edited_run_file_is_named(evaluated_run, capsys, edit):
    workspace, run_id = evaluated_run
    name, change, said = edit
    path = workspace.runs_dir / run_id / name
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    code, err = _report(workspace, run_id, capsys)
    assert code == 2
    assert str(path) in err and said in err and "hint: " in err


@pytest.mark.parametrize("saved", [{"rows": "x"}, {"rows": ["x", 1]}, [1]], ids=["rows as text", "rows of scalars", "a list"])
def test_an_edited_cost_file_is_ignored(evaluated_run, capsys, saved):
    workspace, run_id = evaluated_run
    (workspace.reports_dir / "cost.json").write_text(json.dumps(saved))
    code, _ = _report(workspace, run_id, capsys)
    assert code == 0
    assert "estimated training cost" not in (workspace.reports_dir / f"{run_id}.md").read_text()
