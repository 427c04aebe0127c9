"""Two training processes for real: `accelerate launch` on a CPU (gloo), through tuneui's own launch path."""

from __future__ import annotations

import pytest

import json

from tuneui.core.backend import TrainSpec
from backends.local.backend import LocalBackend
from backends.local.launch import launch_command, read_pid, worker_alive
from backends.runs import RunFolder

from .conftest import TICKETS, chat, wait_for, write_jsonl

FINISHED = ("succeeded", "failed", "cancelled")


@pytest.mark.integration
def test_cpu_processes_launch_through_accelerate_with_gloo_settings():
    command = launch_command("/runs/r1", 0, python="/py", cpu_processes=2)
    assert command[:3] == ["/py", "-m", "accelerate.commands.launch"]
    assert command[command.index("--num_processes") + 1] == "2"
    assert command[command.index("--mixed_precision") + 1] == "no"  # no bf16 autocast on a CPU
    assert command[command.index("--num_cpu_threads_per_process") + 1] == "1"
    assert command[-3:] == ["-m", "backends.local.worker", "/runs/r1"]
    # GPUs win over the CPU setting; one process needs no launcher
    on_gpus = launch_command("/runs/r1", 4, python="/py", cpu_processes=2)
    assert on_gpus[on_gpus.index("--num_processes") + 1] == "4" and on_gpus[on_gpus.index("--mixed_precision") + 1] == "bf16"
    assert launch_command("/runs/r1", 1, python="/py", cpu_processes=2) == ["/py", "-m", "backends.local.worker", "/runs/r1"]
    assert launch_command("/runs/r1", 0, python="/py") == ["/py", "-m", "backends.local.worker", "/runs/r1"]


def test_two_cpu_processes_train_cancel_resume_and_save_one_adapter(workspace, tiny_model):
    from backends.local.progress import newest_complete_checkpoint  # imports transformers: only where it runs
    write_jsonl(workspace.train_file, [chat(u, a) for u, a in TICKETS * 2])
    backend = LocalBackend(workspace)
    spec = TrainSpec(
        run_id=workspace.new_run_id(), backend="local", model=str(tiny_model), train_file=str(workspace.train_file),
        steps=80, save_every=1000, batch_size=2, options={"processes": 2},
    )  # fmt: skip
    run_id = backend.start(spec)
    folder = RunFolder(workspace.run_dir(run_id))
    log = lambda: folder.log_path.read_text(errors="replace")[-3000:]  # noqa: E731
    # Cancel as soon as training runs: 80 steps of the tiny model leave a few seconds for it to land.
    wait_for(lambda: any(e.type == "metrics" for e in folder.read_events()) or folder.read_status().get("status") in FINISHED,
             timeout=120, every=0.05)  # fmt: skip
    backend.cancel(run_id)  # SIGTERM to the launcher's process group: both ranks stop at the same step
    cancelled = wait_for(lambda: (s := backend.status(run_id)).status in FINISHED and s, timeout=60)
    assert cancelled.status == "cancelled", log()
    checkpoint, step = newest_complete_checkpoint(folder.checkpoints_dir)
    assert 0 < step < 80
    # the trainer saves each process's random state: two files, two ranks
    assert sorted(p.name for p in checkpoint.glob("rng_state*.pth")) == ["rng_state_0.pth", "rng_state_1.pth"]
    wait_for(lambda: not worker_alive(read_pid(folder)), timeout=30)

    events_before = len(folder.read_events())
    backend.resume(run_id)
    final = wait_for(lambda: (s := backend.status(run_id)).status in FINISHED and s, timeout=120)
    assert final.status == "succeeded", log()
    new_events = folder.read_events(events_before)
    assert [e.data["resumed_from_step"] for e in new_events if "resumed_from_step" in e.data] == [step]
    steps = [e.data["step"] for e in new_events if e.type == "metrics" and "train_loss" in e.data]
    assert steps and min(steps) > step and max(steps) == 80  # continued, not restarted; only rank 0 wrote
    assert len(steps) == len(set(steps))
    config = json.loads((folder.adapter_dir / "training_config.json").read_text())
    assert config["steps"] == 80 and config["processes"] == 2
    assert (folder.adapter_dir / "adapter_model.safetensors").is_file()
