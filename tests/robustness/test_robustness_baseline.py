"""An edited baseline/best.json is a record that no longer counts, never a crash of `tuneui eval`."""

from __future__ import annotations

import json

import pytest

from tuneui.cli import main

from tests.evaluate.conftest import scripted, ticket_project  # noqa: F401 (fixtures)
from tests.evaluate.test_evaluate_report import evaluated_run  # noqa: F401 (fixture)


@pytest.mark.parametrize("entry", ["three", {"shots": "three"}, {"shots": -1}, {}], ids=["text", "shots as text", "negative", "empty"])
def test_eval_after_best_json_was_edited(evaluated_run, capsys, entry):
    workspace, run_id = evaluated_run
    best = workspace.baseline_dir / "best.json"
    entries = json.loads(best.read_text())
    best.write_text(json.dumps({key: entry for key in entries}))
    code = main(["--project", str(workspace.root), "eval", run_id, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["run_id"] == run_id
