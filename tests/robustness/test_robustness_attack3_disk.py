"""A full disk and two writers at once (issue 24, findings 10 and 11): a failed write leaves no temp
file behind, every command names the full disk instead of failing "unexpectedly", and the leftover
cleanup of one command never deletes the temp file another command is still writing."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tuneui.cli import main
from tuneui.core import files

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _chat(n: int, pad: int = 0) -> dict:
    return {"messages": [{"role": "user", "content": f"Question {n}? " + "x" * pad}, {"role": "assistant", "content": f"Answer {n}."}]}


class _FillingFile:
    """A binary file that raises ENOSPC once `room` bytes are written, like a disk that fills up:
    the error comes from the buffered flush, so close() raises it again."""

    def __init__(self, real, room: int) -> None:
        self._real, self._room, self._pending = real, room, 0

    def write(self, data: bytes) -> int:
        self._pending += len(data)
        if self._pending > self._room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return len(data)

    def flush(self) -> None:
        if self._pending > self._room:
            raise OSError(errno.ENOSPC, "No space left on device")

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._real.close()

    def fileno(self) -> int:
        return self._real.fileno()

    def __enter__(self) -> "_FillingFile":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@pytest.fixture
def disk_fills_up(monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(files.os, "fdopen", lambda fd, *a, **k: _FillingFile(real_fdopen(fd, *a, **k), room=4096))


def _temp_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


def test_an_import_that_fills_the_disk_names_it_and_leaves_no_temp_file(workspace, tmp_path, disk_fills_up, capsys):
    source = tmp_path / "big.jsonl"
    source.write_text("".join(json.dumps(_chat(n, 200)) + "\n" for n in range(200)), encoding="utf-8")

    code = main(["--project", str(workspace.root), "data", "import", str(source)])

    err = capsys.readouterr().err
    assert code == 2, err
    assert ("disk is full" in err.lower() or "no space" in err.lower()) and "failed unexpectedly" not in err and "hint:" in err
    assert _temp_files(workspace.data_dir) == [], "the failed import left its temp file on the full disk"
    assert not (workspace.data_dir / "all.jsonl").exists()


def test_a_small_atomic_write_on_a_full_disk_names_the_file(workspace, disk_fills_up, capsys):
    target = workspace.root / "reports" / "note.json"
    with pytest.raises(Exception) as caught:
        files.atomic_write_json(target, {"text": "y" * 10_000})
    assert type(caught.value).__name__ == "DiskFullError" and str(target) in str(caught.value)
    assert _temp_files(target.parent) == []


def test_a_full_disk_met_outside_the_atomic_writes_is_still_named(workspace, monkeypatch, capsys):
    # status/runs append events and logs with plain open(); the CLI names ENOSPC wherever it comes from.
    import backends.runs

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(backends.runs, "list_runs", full)
    code = main(["--project", str(workspace.root), "runs"])
    err = capsys.readouterr().err
    assert code == 2 and "disk is full" in err.lower() and "failed unexpectedly" not in err, err


# -- a real full disk: a 1 MiB tmpfs (needs root, as CI runs) ---------------------------------------


@pytest.fixture
def full_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _tuneui(project: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, "-m", "tuneui", "--project", str(project), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)  # fmt: skip


@pytest.mark.integration
def test_on_a_really_full_disk_import_cleans_up_and_every_command_names_the_condition(full_disk, tmp_path):
    project = full_disk / "project"
    assert _tuneui(project.parent, "init", str(project)).returncode == 0
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(_chat(n)) + "\n" for n in range(40)), encoding="utf-8")
    assert _tuneui(project, "data", "import", str(small)).returncode == 0
    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps(_chat(n, 300)) + "\n" for n in range(6000)), encoding="utf-8")

    failed = _tuneui(project, "data", "import", str(big))
    assert failed.returncode == 2 and "disk is full" in failed.stderr.lower(), failed.stderr
    assert _temp_files(project / "data") == [], "the failed import's temp file keeps the disk full"
    # Fill what is left, as another program would, and run the commands of the attack.
    with open(full_disk / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass
    for args in (["data", "split"], ["report"], ["estimate"], ["baseline"], ["status"], ["runs"]):
        done = _tuneui(project, *args)
        said = done.stdout + done.stderr
        assert "failed unexpectedly" not in said and "Traceback" not in said, (args, said)


# -- two writers at once -----------------------------------------------------------------------------


def test_leftover_cleanup_spares_a_live_writers_temp_file_and_removes_a_dead_ones(tmp_path):
    live = files.AtomicWriter(tmp_path / "all.jsonl")
    live.write(b"still being written\n")
    dead = tmp_path / ".all.jsonl.deadbeef.tmp"  # what a SIGKILLed writer leaves: nobody holds it
    dead.write_bytes(b"half")

    from tuneui.core.dataset.split import _remove_leftovers

    (tmp_path / "splits").mkdir()
    _remove_leftovers(tmp_path)

    assert not dead.exists()
    with live:
        live.commit()
    assert (tmp_path / "all.jsonl").read_bytes() == b"still being written\n"


@pytest.mark.integration
def test_split_during_an_import_never_breaks_the_import(workspace, tmp_path):
    (workspace.data_dir / "all.jsonl").write_text("".join(json.dumps(_chat(n)) + "\n" for n in range(300)), encoding="utf-8")
    source = tmp_path / f"{uuid.uuid4().hex}.jsonl"
    source.write_text("".join(json.dumps(_chat(n, 100)) + "\n" for n in range(60_000)), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "tuneui", "--project", str(workspace.root)]
    importing = subprocess.Popen([*command, "data", "import", str(source)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not _temp_files(workspace.data_dir) and importing.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert importing.poll() is None, "the import finished before the split could meet it; make the file larger"
        splitting = subprocess.run([*command, "data", "split"], capture_output=True, text=True, env=env, timeout=120)
        assert splitting.returncode == 0, splitting.stderr
        out, err = importing.communicate(timeout=180)
    finally:
        if importing.poll() is None:
            importing.kill()
            importing.wait()
    assert importing.returncode == 0, err
    assert sum(1 for _ in (workspace.data_dir / "all.jsonl").open(encoding="utf-8")) == 60_000


@pytest.mark.integration
@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_signal_during_an_import_leaves_no_temp_file_and_no_traceback(workspace, tmp_path, name):
    import signal

    source = tmp_path / "big.jsonl"
    source.write_text("".join(json.dumps(_chat(n, 100)) + "\n" for n in range(60_000)), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    importing = subprocess.Popen([sys.executable, "-m", "tuneui", "--project", str(workspace.root), "data", "import", str(source)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _temp_files(workspace.data_dir) and importing.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert importing.poll() is None, "the import finished before the signal; make the file larger"
        importing.send_signal(getattr(signal, name))
        _, err = importing.communicate(timeout=60)
    finally:
        if importing.poll() is None:
            importing.kill()
            importing.wait()
    assert importing.returncode == 128 + getattr(signal, name), err
    assert "Traceback" not in err and "failed unexpectedly" not in err, err
    assert _temp_files(workspace.data_dir) == [] and not (workspace.data_dir / "all.jsonl").exists()
