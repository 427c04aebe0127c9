"""One active local training per device: a lock file per GPU (or one for the CPU) held by the worker.

Two trainings on one GPU share its memory and both run out of it, or each runs at half speed
while the estimate promised full speed. The locks are machine-wide (they live in the user's cache,
not in a project), so two projects cannot collide either. `--allow-concurrent` skips them.

Pure standard library: this runs in the UI process and in the worker.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from tuneui.core import locations
from tuneui.core.backend import BackendError
from backends.run_locks import try_lock

LOCK_DIR_ENV = locations.LOCK_DIR_ENV


class DeviceBusyError(BackendError):
    """Another local training holds the device this one would train on."""


def lock_dir(env: Mapping[str, str] | None = None) -> Path:
    return locations.lock_dir(env)


def device_names(gpu_count: int, env: Mapping[str, str] | None = None) -> list[str]:
    """The devices a worker will train on: the visible GPUs by their id, or the CPU."""
    env = os.environ if env is None else env
    if gpu_count == 0:
        return ["cpu"]
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"]
        return [f"gpu-{_safe(d)}" for d in ids[:gpu_count]]
    return [f"gpu-{index}" for index in range(gpu_count)]


def claim_devices(names: list[str], run_dir: Path) -> list[int]:
    """Lock every device for the run in `run_dir`; returns the descriptors that hold the locks.

    Raises DeviceBusyError naming the run that holds one; then nothing stays locked.
    """
    folder = lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    held: list[int] = []
    for name in names:
        lock_file = folder / f"{name}.lock"
        fd = try_lock(lock_file)
        if fd is None:
            holder = lock_file.read_text(encoding="utf-8", errors="replace").strip() or "another run"
            for other in held:
                os.close(other)
            raise DeviceBusyError(
                f"The {name.upper() if name == 'cpu' else name} is busy training {holder}",
                "Wait for that run to end (or `tuneui cancel` it), or pass --allow-concurrent to train "
                "beside it (both share the device's memory and speed).",
            )
        # Who holds it, for the message above; the lock, not this text, is what counts.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"run {run_dir.name} ({run_dir})\n".encode(), 0)
        held.append(fd)
    return held


def _safe(device_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in device_id)
