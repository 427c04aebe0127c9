"""`tuneui cancel` without a run id stops the newest run, as `tuneui status` shows the newest run
(issue 24, "Also seen")."""

from __future__ import annotations

import sys
import types

import pytest

from tuneui.core.backend import TrainSpec
from backends.runs import RunFolder
from tuneui.cli import main

from tests.evaluate.evalkit import ScriptedBackend


class CancellingBackend(ScriptedBackend):
    name = "cancelling"
    cancelled: list[str] = []

    def cancel(self, run_id):
        type(self).cancelled.append(run_id)


@pytest.fixture
def two_runs(workspace, monkeypatch):
    from tuneui.core import providers as registry

    module = types.ModuleType("attack3_cancelling_backend")
    module.CancellingBackend = CancellingBackend
    monkeypatch.setitem(sys.modules, module.__name__, module)
    module.PROVIDER = registry.Provider(name="cancelling", title="a test backend", backend=f"{module.__name__}:CancellingBackend")
    monkeypatch.setitem(registry.table(), "cancelling", f"{module.__name__}:PROVIDER")
    monkeypatch.setattr(CancellingBackend, "cancelled", [])
    for run_id in ("20261201-100000-aaaa", "20261207-100000-bbbb"):
        RunFolder.create(workspace.runs_dir, TrainSpec(run_id=run_id, backend="cancelling", model="m", train_file="t.jsonl"))
    return workspace


def test_cancel_without_a_run_id_cancels_the_newest_run(two_runs, capsys):
    assert main(["--project", str(two_runs.root), "cancel"]) == 0
    assert CancellingBackend.cancelled == ["20261207-100000-bbbb"]
    assert "Cancel requested for run 20261207-100000-bbbb" in capsys.readouterr().out


def test_cancel_with_a_run_id_cancels_that_run(two_runs, capsys):
    assert main(["--project", str(two_runs.root), "cancel", "20261201-100000-aaaa"]) == 0
    assert CancellingBackend.cancelled == ["20261201-100000-aaaa"]


def test_cancel_without_runs_says_so(workspace, capsys):
    assert main(["--project", str(workspace.root), "cancel"]) == 2
    assert "No runs yet" in capsys.readouterr().err
