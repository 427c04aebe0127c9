"""A run survives its worker: SIGTERM saves and cancels, SIGKILL is resumed from a checkpoint."""

from __future__ import annotations

import json
import os
import signal

import pytest

from tuneui.core.backend import TrainSpec
from backends.local.backend import LocalBackend
from backends.local.launch import read_pid, worker_alive
from backends.runs import RunFolder

from .conftest import TICKETS, chat, run_cli, wait_for, write_jsonl

pytestmark = pytest.mark.slow  # real training runs, killed and resumed


def _start(workspace, tiny_model, steps: int, save_every: int) -> tuple[LocalBackend, str, RunFolder]:
    write_jsonl(workspace.train_file, [chat(u, a) for u, a in TICKETS])
    backend = LocalBackend(workspace)
    spec = TrainSpec(
        run_id=workspace.new_run_id(), backend="local", model=str(tiny_model),
        train_file=str(workspace.train_file), steps=steps, save_every=save_every, batch_size=2,
    )  # fmt: skip
    run_id = backend.start(spec)
    return backend, run_id, RunFolder(workspace.run_dir(run_id))


def _steps_seen(folder: RunFolder, kind: str) -> list[int]:
    return [e.data["step"] for e in folder.read_events() if e.type == kind and "step" in e.data]


def test_sigterm_saves_a_checkpoint_and_ends_cancelled(workspace, tiny_model):
    from backends.local.progress import newest_complete_checkpoint  # imports transformers: only where it runs
    backend, run_id, folder = _start(workspace, tiny_model, steps=400, save_every=300)
    wait_for(lambda: _steps_seen(folder, "metrics"), timeout=120)
    backend.cancel(run_id)
    final = wait_for(lambda: (s := backend.status(run_id)).status in ("cancelled", "failed", "succeeded") and s, timeout=60)
    assert final.status == "cancelled", folder.log_path.read_text()[-2000:]
    newest = newest_complete_checkpoint(folder.checkpoints_dir)
    assert newest is not None and 0 < newest[1] < 300  # saved because of the cancel, not the schedule
    assert _steps_seen(folder, "checkpoint") == [newest[1]]
    assert not folder.adapter_dir.exists()
    wait_for(lambda: not worker_alive(read_pid(folder)), timeout=30)  # it exits right after writing status


def test_sigkill_then_resume_continues_from_the_newest_complete_checkpoint(workspace, tiny_model):
    from backends.local.progress import newest_complete_checkpoint  # imports transformers: only where it runs
    backend, run_id, folder = _start(workspace, tiny_model, steps=30, save_every=5)
    wait_for(lambda: _steps_seen(folder, "checkpoint"), timeout=120, every=0.05)
    os.killpg(read_pid(folder), signal.SIGKILL)
    wait_for(lambda: not worker_alive(read_pid(folder)), timeout=20)
    killed = backend.status(run_id)
    assert killed.status == "failed" and "stopped without finishing" in (killed.error or "")
    checkpoint_step = newest_complete_checkpoint(folder.checkpoints_dir)[1]
    assert 5 <= checkpoint_step < 30
    events_before = len(folder.read_events())

    resumed = run_cli(workspace.root, "train", "--resume", run_id, "--wait", "--json", timeout=240)
    assert resumed.returncode == 0, resumed.stderr + folder.log_path.read_text()[-2000:]
    final = json.loads(resumed.stdout[resumed.stdout.index("{"):])
    assert final["status"] == "succeeded" and final["metrics"]["steps"] == 30
    new_events = folder.read_events(events_before)
    resumed_from = [e.data["resumed_from_step"] for e in new_events if e.type == "status" and "resumed_from_step" in e.data]
    assert resumed_from == [checkpoint_step]
    new_steps = [e.data["step"] for e in new_events if e.type == "metrics"]
    assert min(new_steps) == checkpoint_step + 1  # continued, not restarted from step 0
