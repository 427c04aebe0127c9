"""A damaged run folder (hand-edited, truncated, binary) is a clear error naming the file, never a traceback."""

from __future__ import annotations

import pytest

from backends.base import TrainSpec
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
