"""The two locks of a run folder, both `flock` on a file in it.

- `.lock`, the folder lock (`folder_lock`): held for a moment around a check-then-write, by any
  process (the UI, `tuneui status`, `train --resume`). Re-entrant within a process, since a
  check-then-write holds it around writes that take it again: flock alone would deadlock there,
  each open() being a separate holder.
- `worker.lock`, the worker lock (`try_lock`, `is_locked`): held by a run's one worker for its
  whole life. The OS drops it when the process dies, however it dies, so it cannot go stale the
  way a pid file does.
"""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_held: dict[str, list] = {}  # folder -> [thread lock, depth, open lock file]
_held_guard = threading.Lock()


@contextmanager
def folder_lock(lock_file: Path) -> Iterator[None]:
    key = str(lock_file.resolve())
    with _held_guard:
        entry = _held.setdefault(key, [threading.RLock(), 0, None])
    with entry[0]:
        if entry[1] == 0:
            entry[2] = open(lock_file, "a")
            fcntl.flock(entry[2], fcntl.LOCK_EX)
        entry[1] += 1
        try:
            yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                entry[2].close()  # closing drops the flock
                entry[2] = None


def is_locked(lock_file: Path) -> bool:
    """Does some process hold `lock_file` (this one included, through another descriptor)?"""
    try:
        fd = os.open(lock_file, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def try_lock(lock_file: Path) -> int | None:
    """Take `lock_file` exclusively; the descriptor that holds it, or None when another holds it."""
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd
