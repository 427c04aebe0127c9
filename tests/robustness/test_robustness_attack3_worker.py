"""The detached training worker (issue 24, findings 14 and 17): it stops when its run folder is
deleted, a resume says which checkpoint it used or why none, and a killed worker's recorded error is
a sentence, not the tail of its log."""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest

from tuneui.core.backend import TrainSpec
from backends.local.backend import LocalBackend
from backends.local.launch import read_pid, worker_alive
from backends.runs import RunFolder

from tests.local.conftest import TICKETS, chat, run_cli, tiny_model, wait_for, write_jsonl  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # real (tiny) training runs, killed


def _start(workspace, model, steps: int, save_every: int) -> tuple[LocalBackend, str, RunFolder]:
    write_jsonl(workspace.train_file, [chat(u, a) for u, a in TICKETS])
    backend = LocalBackend(workspace)
    spec = TrainSpec(run_id=workspace.new_run_id(), backend="local", model=str(model), train_file=str(workspace.train_file),
                     steps=steps, save_every=save_every, batch_size=2)  # fmt: skip
    run_id = backend.start(spec)
    return backend, run_id, RunFolder(workspace.run_dir(run_id))


def _kill_group(pid: int | None) -> None:
    if pid is not None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def test_a_worker_whose_run_folder_is_deleted_stops_within_a_minute(workspace, tiny_model):
    backend, run_id, folder = _start(workspace, tiny_model, steps=100_000, save_every=100_000)
    pid = read_pid(folder)
    try:
        # Training has begun (the worker logs metrics only every so many of these 100,000 steps).
        wait_for(lambda: any(e.type == "status" and "total_steps" in e.data for e in folder.read_events()), timeout=180)
        time.sleep(2)
        shutil.rmtree(folder.path)
        started = time.monotonic()
        wait_for(lambda: not worker_alive(pid), timeout=60, every=0.5)
        assert time.monotonic() - started < 60
        assert not folder.path.exists(), "the worker wrote its deleted run folder back"
    finally:
        _kill_group(pid)


def test_a_worker_killed_in_its_first_checkpoint_is_resumed_with_a_reason_and_a_sentence(workspace, tiny_model):
    from backends.local.progress import COMPLETE_MARKER  # imports transformers: only where it runs
    backend, run_id, folder = _start(workspace, tiny_model, steps=12, save_every=4)
    pid = read_pid(folder)
    try:
        first = folder.checkpoints_dir / "checkpoint-4"
        wait_for(lambda: first.is_dir(), timeout=180, every=0.01)
        _kill_group(pid)
        wait_for(lambda: not worker_alive(pid), timeout=20)
    finally:
        _kill_group(pid)
    # SIGKILL while the trainer wrote checkpoint-4: the folder is there, its files half written.
    (first / COMPLETE_MARKER).unlink(missing_ok=True)

    killed = backend.status(run_id)
    assert killed.status == "failed"
    error = killed.error or ""
    assert "stopped without finishing" in error
    assert "\n" not in error and "it/s" not in error and "%|" not in error, f"a log tail, not a sentence: {error!r}"
    assert str(folder.log_path) in error  # where to read more

    resumed = run_cli(workspace.root, "train", "--resume", run_id, "--wait", timeout=300)
    assert resumed.returncode == 0, resumed.stderr + folder.log_path.read_text()[-2000:]
    notes = [e.data["message"] for e in folder.read_events() if e.type == "log" and "checkpoint" in str(e.data.get("message"))]
    said = " ".join(notes)
    assert "checkpoint-4" in said and "incomplete" in said and "step 1" in said, notes
    assert "checkpoint-4" in resumed.stdout + resumed.stderr  # `train --resume --wait` shows the note


def test_a_resume_names_the_checkpoint_it_continues_from(workspace, tiny_model):
    from backends.local.progress import COMPLETE_MARKER  # imports transformers: only where it runs
    backend, run_id, folder = _start(workspace, tiny_model, steps=12, save_every=4)
    pid = read_pid(folder)
    try:
        wait_for(lambda: (folder.checkpoints_dir / "checkpoint-4" / COMPLETE_MARKER).is_file(), timeout=180, every=0.01)
        _kill_group(pid)
        wait_for(lambda: not worker_alive(pid), timeout=20)
    finally:
        _kill_group(pid)
    resumed = run_cli(workspace.root, "train", "--resume", run_id, "--wait", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    notes = [e.data["message"] for e in folder.read_events() if e.type == "log" and "Resumed" in str(e.data.get("message"))]
    assert notes and "checkpoint-" in notes[0], notes
