"""Sharing the CPU between tuneui's torch processes: a training worker and an inference child (a
baseline, an evaluation, the chat) on one machine.

Each torch process starts with as many OpenMP threads as the machine has cores, and OpenMP threads
spin while they wait at the end of each parallel region. Two such processes on the same cores
keep preempting each other's spinning threads: measured on 2 cores, a training step went from
1.4 s alone to 46.9 s beside a baseline (33x). `OMP_WAIT_POLICY=PASSIVE` avoids the spinning but
costs 1.4x when a process runs alone, and it can only be set before the process starts.

So each process instead takes its share of the cores while others run: threads = cores // live
tuneui torch processes (at least one), checked between training steps and between generated
tokens, at most once a second. Alone, a process keeps torch's default and loses nothing; beside
another, no core runs two spinning threads. Live processes are counted through lock files in a
per-user folder: each process holds an flock on its own file, which the OS drops when it exits,
however it exits; an unlocked file is a dead process's and is removed.

`TUNEUI_CPU_SHARING=off` keeps torch's defaults (the old behaviour; bench/cpu_sharing.py compares).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SWITCH_ENV = "TUNEUI_CPU_SHARING"
CHECK_EVERY_SECONDS = 1.0


def registry() -> Path:
    return Path(tempfile.gettempdir()) / f"tuneui-torch-{os.getuid()}"


class CpuShare:
    """This process's place among the busy tuneui torch processes; `adjust()` sets its thread count.

    A process counts only while it works (`busy()`): an idle inference child, waiting for the chat's
    next message, takes no share from a training run.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.enabled = os.environ.get(SWITCH_ENV, "").strip().lower() not in ("off", "0", "false", "no")
        self.folder = folder or registry()
        self.full = 0
        self._checked = 0.0
        self._fd: int | None = None
        self._own: Path | None = None
        self._depth = 0

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Count this process among the busy ones while the block runs (re-entrant)."""
        if self.enabled and self._depth == 0:
            import torch

            self.full = self.full or torch.get_num_threads()
            try:
                self._register()
            except OSError:
                self.enabled = False  # no shared temp folder: run as torch would by default
        self._depth += 1
        try:
            self.adjust(force=True)
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                assert self._own is not None
                self._own.unlink(missing_ok=True)
                os.close(self._fd)
                self._fd = self._own = None

    def _register(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        while True:
            own = self.folder / f"{os.getpid()}.lock"
            fd = os.open(own, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_nlink > 0:  # not removed as a dead one's between open and flock
                self._fd, self._own = fd, own
                os.set_inheritable(fd, False)
                return
            os.close(fd)

    def live_processes(self) -> int:
        """How many tuneui torch processes hold their lock file now, this one included."""
        count = 0
        for path in self.folder.glob("*.lock"):
            if path == self._own:
                count += 1
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                count += 1  # its process holds it: alive
            else:
                path.unlink(missing_ok=True)  # nobody holds it: its process is gone
            finally:
                os.close(fd)
        return max(count, 1)

    def threads(self) -> int:
        return max(1, self.full // self.live_processes())

    def adjust(self, force: bool = False) -> None:
        """Take this process's share of the cores, from the thread that runs the work (OpenMP keeps
        the thread count per thread). Cheap: at most one look at the folder a second."""
        if not self.enabled or self._fd is None:
            return
        now = time.monotonic()
        if not force and now - self._checked < CHECK_EVERY_SECONDS:
            return
        self._checked = now
        import torch

        wanted = self.threads()
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)


_share: CpuShare | None = None


def share() -> CpuShare:
    """This process's one CpuShare."""
    global _share
    if _share is None:
        _share = CpuShare()
    return _share
