"""The third attack, finding 4: re-splitting after training, then `tuneui eval RUN`, scored the run
on examples it trained on, with no warning: the run recorded only the linked path. A run now
records its split by content, and eval refuses another one, saying how to get the right one back."""

from __future__ import annotations

import json
import sys
import types

import pytest

from tuneui.core.backend import ModelRef
from backends.runs import RunFolder
from tuneui.cli import main

from tests.evaluate.evalkit import ScriptedBackend, chat_line, many_tickets


class StartingBackend(ScriptedBackend):
    """A scripted backend whose runs succeed at once: what a finished training leaves."""

    name = "starting"

    def start(self, spec):
        run = RunFolder.create(self.workspace.runs_dir, spec)
        ref = ModelRef(backend="starting", base_model=spec.model, kind="adapter", path=str(run.adapter_dir))
        run.write_status(status="succeeded", model_ref=ref.to_dict())
        return spec.run_id

    def status(self, run_id):
        return RunFolder.open(self.workspace.runs_dir, run_id).job_status()


@pytest.fixture
def project(workspace, monkeypatch):
    from tuneui.core import providers as registry

    module = types.ModuleType("attack3_starting_backend")
    module.StartingBackend = StartingBackend
    monkeypatch.setitem(sys.modules, module.__name__, module)
    module.PROVIDER = registry.Provider(name="starting", title="a test backend", backend=f"{module.__name__}:StartingBackend")
    monkeypatch.setitem(registry.table(), "starting", f"{module.__name__}:PROVIDER")
    monkeypatch.setattr(StartingBackend, "calls", [])
    monkeypatch.setattr(StartingBackend, "answer", staticmethod(lambda model, conversation: "billing"))
    lines = [chat_line(q, a) for q, a in many_tickets(40)]
    (workspace.data_dir / "all.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return workspace


def _cli(workspace, capsys, *args) -> tuple[int, str, str]:
    code = main(["--project", str(workspace.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _train(workspace, capsys) -> str:
    code, out, err = _cli(workspace, capsys, "train", "--backend", "starting", "--model", "base", "--json")
    assert code == 0, err
    return json.loads(out)["run_id"]


def test_a_run_records_the_split_it_trained_on(project, capsys):
    assert _cli(project, capsys, "data", "split", "--seed", "1")[0] == 0
    run_id = _train(project, capsys)
    split = RunFolder.open(project.runs_dir, run_id).read_spec().options["split"]
    import hashlib

    assert split["train"]["sha256"] == hashlib.sha256(project.train_file.read_bytes()).hexdigest()
    assert split["val"]["sha256"] == hashlib.sha256(project.val_file.read_bytes()).hexdigest()
    assert split["train"]["file"].startswith(str(project.data_dir / "splits"))  # the generation, not the link
    assert (split["val_fraction"], split["seed"], split["project_split"]) == (0.15, 1, True)


def test_eval_refuses_a_split_made_after_training(project, capsys):
    assert _cli(project, capsys, "data", "split", "--seed", "1")[0] == 0
    run_id = _train(project, capsys)
    assert _cli(project, capsys, "data", "split", "--seed", "2")[0] == 0  # the held-out set changes
    code, _, err = _cli(project, capsys, "eval", run_id, "--no-forgetting")
    assert code == 2 and f"Run {run_id} trained on another split" in err
    assert "tuneui data split --val 0.15 --seed 1" in err
    assert not (project.run_dir(run_id) / "eval").exists() or not (project.run_dir(run_id) / "eval" / "result.json").exists()
    # Back on the split it trained on, the evaluation runs.
    assert _cli(project, capsys, "data", "split", "--seed", "1")[0] == 0
    code, _, err = _cli(project, capsys, "eval", run_id, "--no-forgetting")
    assert code == 0, err


def test_runs_from_before_the_record_are_evaluated_as_before(project, capsys):
    assert _cli(project, capsys, "data", "split")[0] == 0
    run_id = _train(project, capsys)
    spec_path = project.run_dir(run_id) / "spec.json"
    spec = json.loads(spec_path.read_text())
    spec["options"].pop("split", None)
    spec_path.write_text(json.dumps(spec))
    assert _cli(project, capsys, "data", "split", "--seed", "5")[0] == 0
    code, _, err = _cli(project, capsys, "eval", run_id, "--no-forgetting")
    assert code == 0, err
