"""A damaged run folder (hand-edited, truncated, binary) is a clear error naming the file, never a traceback."""

from __future__ import annotations

import pytest

from tuneui.core.backend import BackendError, TrainSpec
from backends.runs import RunFolder
from tuneui.cli import main

DAMAGE = {
    "bad JSON": b'{"status": "running",\n',
    "binary": bytes(range(128, 256)),
    "a list": b"[1, 2]\n",
}


def _run(workspace, run_id: str = "r1") -> RunFolder:
    spec = TrainSpec(run_id=run_id, backend="local", model="tiny", train_file=str(workspace.train_file))
    return RunFolder.create(workspace.runs_dir, spec)


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
@pytest.mark.parametrize(
    "name, command",
    [
        (name, command)
        for name in ("spec.json", "status.json")
        for command in (["status", "r1"], ["status", "r1", "--json"], ["cancel", "r1"], ["eval", "r1"])
        if not (command[0] == "eval" and name == "spec.json")  # eval reads the status, not the spec
    ],
)
def test_a_damaged_run_file_is_named_with_a_hint(workspace, capsys, damage, name, command):
    folder = _run(workspace)
    (folder.path / name).write_bytes(damage)
    code = main(["--project", str(workspace.root), *command])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert "error: " in err and "hint: " in err
    assert f"{folder.path / name}: " in err
    assert (folder.path / name).read_bytes() == damage


def test_runs_lists_the_healthy_runs_beside_a_damaged_one(workspace, capsys):
    _run(workspace, "r1")
    damaged = _run(workspace, "r2")
    (damaged.path / "status.json").write_bytes(b"{")
    code = main(["--project", str(workspace.root), "runs"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "r1" in out and "r2" in out and "damaged" in out
    assert "r2/status.json: invalid JSON at line 1" in err


def test_damaged_event_lines_are_skipped_not_fatal(workspace):
    folder = _run(workspace)
    folder.events_path.write_bytes(
        b'[1]\n"text"\n{"type": "log", "data": [1]}\n\xff\xfe{\n'
        b'{"type": "metrics", "data": {"step": 2, "train_loss": 1.5}, "time": 1}\n'
    )
    events = folder.read_events()
    assert [e.type for e in events] == ["metrics"]
    assert folder.job_status().metrics["steps"] == 2


def test_a_run_id_cannot_leave_the_runs_folder(workspace, capsys):
    _run(workspace)
    outside = workspace.root / "elsewhere"
    outside.mkdir()
    (outside / "spec.json").write_text("{}")
    assert main(["--project", str(workspace.root), "status", "../elsewhere"]) == 2
    assert "No run named '../elsewhere'" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["events.jsonl", "status.json"])
def test_a_run_file_replaced_by_a_folder_is_named(workspace, capsys, name):
    folder = _run(workspace)
    (folder.path / name).unlink()
    (folder.path / name).mkdir()
    assert main(["--project", str(workspace.root), "status", "r1"]) == 2
    err = capsys.readouterr().err
    assert f"error: {folder.path / name}: " in err and "Traceback" not in err


def test_a_runs_file_in_place_of_the_folder_is_a_clear_error(workspace, capsys):
    workspace.runs_dir.rmdir()
    workspace.runs_dir.write_text("not a folder\n")
    spec = TrainSpec(run_id="r1", backend="local", model="tiny", train_file=str(workspace.train_file))
    with pytest.raises(BackendError) as caught:
        RunFolder.create(workspace.runs_dir, spec)
    assert f"{workspace.runs_dir} is a file" in caught.value.title and caught.value.hint
    assert workspace.runs_dir.read_text() == "not a folder\n"
    assert main(["--project", str(workspace.root), "runs"]) == 2
    assert "is a file" in capsys.readouterr().err


def test_an_unknown_status_word_is_damage_not_a_failure(workspace, capsys):
    folder = _run(workspace)
    folder.write_status(status="succeeded")
    text = folder.status_path.read_text().replace('"succeeded"', '"finished ok"')
    folder.status_path.write_text(text)
    assert main(["--project", str(workspace.root), "status", "r1", "--json"]) == 2
    err = capsys.readouterr().err
    assert "status.json" in err and "'finished ok'" in err and "Traceback" not in err
    assert main(["--project", str(workspace.root), "runs"]) == 1
    out, err = capsys.readouterr()
    assert "damaged" in out and "failed" not in out
    assert main(["--project", str(workspace.root), "train", "--resume", "r1"]) == 2
    assert "'finished ok'" in capsys.readouterr().err
    assert not folder.worker_lock_path.exists() and not folder.pid_path.exists()  # no worker was started


def test_a_copied_project_points_at_its_own_files(workspace, tmp_path, capsys):
    import json
    import shutil

    from tuneui.core.backend import ModelRef

    workspace.train_file.write_text("{}\n")
    (workspace.root / "models" / "tiny").mkdir(parents=True)
    spec = TrainSpec(
        run_id="r1", backend="local", model=str(workspace.root / "models" / "tiny"),
        train_file=str(workspace.train_file), val_file=str(workspace.val_file),
    )  # fmt: skip
    folder = RunFolder.create(workspace.runs_dir, spec)
    folder.finish("succeeded", model_ref=ModelRef("local", spec.model, kind="adapter", path=str(folder.adapter_dir)).to_dict())
    copy = tmp_path / "copy"
    shutil.copytree(workspace.root, copy)
    shutil.rmtree(workspace.root)

    for name in ("spec.json", "status.json"):
        assert str(workspace.root) not in (copy / "runs" / "r1" / name).read_text()
    copied = RunFolder(copy / "runs" / "r1")
    read = copied.read_spec()
    assert (read.train_file, read.val_file, read.model) == (
        str(copy / "data" / "train.jsonl"), str(copy / "data" / "val.jsonl"), str(copy / "models" / "tiny"),
    )  # fmt: skip
    assert main(["--project", str(copy), "status", "r1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model_ref"] == str(copy / "runs" / "r1" / "adapter")


def test_metrics_a_resume_trains_again_are_read_once_the_latest(workspace):
    from tuneui.core.backend import Event

    folder = _run(workspace)
    metrics = lambda step, loss: Event("metrics", {"step": step, "train_loss": loss}, 1.0)  # noqa: E731
    folder.append_events([metrics(1, 3.0), metrics(2, 2.5), metrics(3, 2.4), Event("checkpoint", {"step": 2}, 1.0), metrics(4, 2.3)])
    folder.append_events([Event("status", {"status": "running", "resumed_from_step": 2}, 2.0), metrics(3, 2.2), metrics(4, 2.1)])
    steps = [(e.data["step"], e.data["train_loss"]) for e in folder.read_events() if e.type == "metrics"]
    assert steps == [(1, 3.0), (2, 2.5), (3, 2.2), (4, 2.1)]
    assert folder.job_status().metrics["last_train_loss"] == 2.1
    assert [e.seq for e in folder.read_events(2)] == [3, 5, 6, 7]  # offsets still count every line
