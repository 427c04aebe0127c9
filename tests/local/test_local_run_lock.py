"""One worker per run and one training per device; events keyed by step; one terminal status.

Every test here reproduces an attack of issue 11: concurrent resumes, concurrent `status` calls on a
killed run, a kill + resume, a kill right after the last checkpoint, two trains side by side.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tuneui.core.backend import BackendError, TrainSpec
from backends.local.backend import LocalBackend
from backends.local.launch import read_pid, worker_alive
from backends.runs import RunFolder

from .conftest import PROJECT_ROOT, TICKETS, chat, run_cli, wait_for, write_jsonl

pytestmark = pytest.mark.slow  # real training runs, killed, resumed and cancelled
TERMINAL = ("succeeded", "failed", "cancelled")


def _start(workspace, tiny_model, steps: int, save_every: int) -> tuple[LocalBackend, str, RunFolder]:
    write_jsonl(workspace.train_file, [chat(u, a) for u, a in TICKETS])
    backend = LocalBackend(workspace)
    spec = TrainSpec(
        run_id=workspace.new_run_id(), backend="local", model=str(tiny_model),
        train_file=str(workspace.train_file), steps=steps, save_every=save_every, batch_size=2,
    )  # fmt: skip
    return backend, backend.start(spec), RunFolder(workspace.run_dir(spec.run_id))


def _kill_after_first_checkpoint(backend: LocalBackend, run_id: str, folder: RunFolder) -> int:
    from backends.local.progress import newest_complete_checkpoint  # imports transformers: only where it runs
    wait_for(lambda: newest_complete_checkpoint(folder.checkpoints_dir), timeout=120, every=0.05)
    os.killpg(read_pid(folder), signal.SIGKILL)
    wait_for(lambda: not worker_alive(read_pid(folder)), timeout=20)
    assert backend.status(run_id).status == "failed"
    return len(folder.read_events())


def _cli_processes(project: Path, *args: str, count: int) -> list[subprocess.CompletedProcess[str]]:
    """`count` copies of `tuneui ARGS` started together, as a user hammering a terminal would."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "tuneui", "--project", str(project), *args]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=project) for _ in range(count)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return results


def _workers_of(folder: RunFolder) -> list[int]:
    """Live worker processes whose command line names this run folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if "backends.local.worker" in cmdline and str(folder.path) in cmdline and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def _terminal_events(folder: RunFolder, after: int = 0) -> list[str]:
    return [e.data["status"] for e in folder.read_events(after) if e.type == "status" and e.data.get("status") in TERMINAL]


def test_eight_concurrent_resumes_start_one_worker_and_a_cancel_ends_it_once(workspace, tiny_model):
    backend, run_id, folder = _start(workspace, tiny_model, steps=2000, save_every=3)
    before = _kill_after_first_checkpoint(backend, run_id, folder)

    results = _cli_processes(workspace.root, "train", "--resume", run_id, "--json", count=8)
    started = [r for r in results if r.returncode == 0]
    assert len(started) == 1, [r.stderr for r in results]
    for refused in (r for r in results if r.returncode != 0):
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert f"Run {run_id} is" in refused.stderr, refused.stderr
    assert len(_workers_of(folder)) == 1
    wait_for(lambda: any("resumed_from_step" in e.data for e in folder.read_events(before)), timeout=120)
    assert len(_workers_of(folder)) == 1

    out = run_cli(workspace.root, "cancel", run_id)
    assert out.returncode == 0, out.stderr
    wait_for(lambda: backend.status(run_id).status in TERMINAL, timeout=60)
    wait_for(lambda: not _workers_of(folder), timeout=30)
    time.sleep(1.0)  # a second worker, had one started, would write after the cancel
    assert backend.status(run_id).status == "cancelled"
    assert _terminal_events(folder, before) == ["cancelled"]
    assert folder.read_events()[-1].data.get("status") == "cancelled"  # nothing after the cancel
    resumed = [e for e in folder.read_events(before) if e.type == "status" and "resumed_from_step" in e.data]
    assert len(resumed) == 1

    # The same, released at one instant: eight threads past a barrier, each with its own backend.
    before = len(folder.read_events())
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def resume() -> None:
        barrier.wait()
        try:
            LocalBackend(workspace).resume(run_id)
            outcomes.append("started")
        except BackendError as exc:
            outcomes.append(exc.title)

    threads = [threading.Thread(target=resume) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("started") == 1, outcomes
    assert len(_workers_of(folder)) == 1
    wait_for(lambda: any("resumed_from_step" in e.data for e in folder.read_events(before)), timeout=120)
    backend.cancel(run_id)
    wait_for(lambda: not _workers_of(folder), timeout=60)
    assert _terminal_events(folder, before) == ["cancelled"]


def test_cancel_of_a_run_whose_worker_is_starting_waits_for_no_second_worker(workspace, tiny_model):
    backend, run_id, folder = _start(workspace, tiny_model, steps=2000, save_every=500)
    out = run_cli(workspace.root, "train", "--resume", run_id)
    assert out.returncode == 2 and "still running" in out.stderr
    backend.cancel(run_id)
    wait_for(lambda: backend.status(run_id).status in TERMINAL, timeout=90)
    wait_for(lambda: not _workers_of(folder), timeout=30)
    assert _terminal_events(folder) == ["cancelled"]


def test_a_second_training_on_the_same_device_is_refused_unless_allowed(workspace, tiny_model):
    write_jsonl(workspace.train_file, [chat(u, a) for u, a in TICKETS * 2])
    first = run_cli(workspace.root, "train", "--backend", "local", "--model", str(tiny_model), "--steps", "2000", "--json")
    assert first.returncode == 0, first.stderr
    first_id = json.loads(first.stdout)["run_id"]
    try:
        second = run_cli(workspace.root, "train", "--backend", "local", "--model", str(tiny_model), "--steps", "5")
        assert second.returncode == 2 and "Traceback" not in second.stderr
        assert first_id in second.stderr and "--allow-concurrent" in second.stderr
        assert len(list(workspace.runs_dir.iterdir())) == 1  # the refused run left no folder behind

        allowed = run_cli(workspace.root, "train", "--backend", "local", "--model", str(tiny_model), "--steps", "2", "--allow-concurrent", "--json")
        assert allowed.returncode == 0, allowed.stderr
        second_id = json.loads(allowed.stdout)["run_id"]
        backend = LocalBackend(workspace)
        final = wait_for(lambda: (s := backend.status(second_id)).status in TERMINAL and s, timeout=120)
        assert final.status == "succeeded", RunFolder(workspace.run_dir(second_id)).log_path.read_text()[-2000:]
    finally:
        run_cli(workspace.root, "cancel", first_id)
    wait_for(lambda: LocalBackend(workspace).status(first_id).status in TERMINAL, timeout=90)


def test_concurrent_status_calls_on_a_killed_run_append_one_failed_event(workspace):
    folder = RunFolder.create(workspace.runs_dir, TrainSpec(run_id="r1", backend="local", model="tiny", train_file=str(workspace.train_file)))
    folder.write_status(status="running")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder.pid_path.write_text(f"{dead.pid}\n")

    results = _cli_processes(workspace.root, "status", "r1", "--json", count=8)
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    assert {json.loads(r.stdout)["status"] for r in results} == {"failed"}
    assert _terminal_events(folder) == ["failed"]


def test_kill_and_resume_log_each_metric_step_once(workspace, tiny_model):
    from backends.local.progress import newest_complete_checkpoint  # imports transformers: only where it runs
    backend, run_id, folder = _start(workspace, tiny_model, steps=30, save_every=5)
    wait_for(lambda: newest_complete_checkpoint(folder.checkpoints_dir), timeout=120, every=0.05)
    # Let it log a few steps past the checkpoint: those are trained again after the resume.
    checkpoint = newest_complete_checkpoint(folder.checkpoints_dir)[1]
    wait_for(lambda: any(e.data.get("step", 0) > checkpoint + 1 for e in folder.read_events() if e.type == "metrics"), timeout=60, every=0.05)
    os.killpg(read_pid(folder), signal.SIGKILL)
    wait_for(lambda: not worker_alive(read_pid(folder)), timeout=20)
    backend.status(run_id)

    resumed = run_cli(workspace.root, "train", "--resume", run_id, "--wait", "--json", timeout=240)
    assert resumed.returncode == 0, resumed.stderr + folder.log_path.read_text()[-2000:]
    steps = [e.data["step"] for e in folder.read_events() if e.type == "metrics" and "train_loss" in e.data]
    repeated = {step: n for step, n in Counter(steps).items() if n > 1}
    assert not repeated, f"steps logged more than once: {repeated}"
    assert steps == sorted(steps) and steps[-1] == 30


def test_resuming_a_run_killed_after_its_last_checkpoint_trains_no_further(workspace, tiny_model):
    # 5 steps of a 6-step epoch: a resume at step 5 lands inside the epoch, where the trainer used
    # to skip 5 batches and then train a sixth.
    backend, run_id, folder = _start(workspace, tiny_model, steps=5, save_every=5)
    wait_for(lambda: backend.status(run_id).status in TERMINAL, timeout=120)
    assert backend.status(run_id).status == "succeeded", folder.log_path.read_text()[-2000:]
    wait_for(lambda: not folder.worker_running(), timeout=30)
    # What a SIGKILL right after the last checkpoint leaves: checkpoint-5 complete, no adapter, no verdict.
    shutil.rmtree(folder.adapter_dir)
    folder.write_status(status="failed", model_ref=None, error="The training worker stopped without finishing")
    before = len(folder.read_events())

    resumed = run_cli(workspace.root, "train", "--resume", run_id, "--wait", "--json", timeout=240)
    assert resumed.returncode == 0, resumed.stderr + folder.log_path.read_text()[-2000:]
    final = json.loads(resumed.stdout[resumed.stdout.index("{"):])
    assert final["status"] == "succeeded" and final["metrics"]["steps"] == 5
    assert not [e for e in folder.read_events(before) if e.type == "metrics" and e.data.get("step", 0) > 5]
    assert folder.adapter_dir.is_dir()
