"""Atomic file writes: a crash leaves either the old file or the new one, never half of either.

Every temp file is held under an exclusive `flock` by its writer from creation to rename: the OS
drops the lock when the writer exits, however it exits, so `remove_stale_temp_files` can tell a
dead writer's leftover (unlocked) from a live writer's file (locked) without guessing from pids
or ages, and never deletes a file another process is still writing.

A full disk is a named condition (`DiskFullError`, a `TuneError` naming the file), and the temp
file is removed whatever closing it raises: a failed write never leaves the disk fuller.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from tuneui.errors import TuneError

# The errors of a write that found no room: no block left, or the user's quota spent.
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# A temp symlink (split's link swap) lives for microseconds and cannot be locked: older than this, it is a leftover.
STALE_LINK_SECONDS = 60.0


class DiskFullError(TuneError):
    """No space left on the device (or the quota is spent) while writing a file."""


def disk_full_error(path: str | os.PathLike[str] | None) -> DiskFullError:
    where = Path(path) if path else None
    folder = where.parent if where else Path.cwd()
    return DiskFullError(
        f"The disk is full: could not write {where}" if where else "The disk is full: a write found no space left",
        f"Free space on the disk that holds {folder} (`df -h {folder}` shows how much is left), then run the command "
        "again; the file being written was left as it was.",
    )


def is_disk_full(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS


@contextmanager
def named_disk_full(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn a full disk's OSError into `DiskFullError` naming `path`; other errors pass unchanged."""
    try:
        yield
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(path) from None
        raise


def _locked_temp(target: Path) -> tuple[int, str]:
    """A new temp file beside `target`, held under this process's exclusive flock.

    Between mkstemp and flock a cleaner may lock and delete the file; the link count tells, and
    then a fresh one is made.
    """
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink > 0:
            return fd, tmp
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to a temp file in the same folder, fsync it, then rename it over `path`.

    The temp file must live in the target's folder: rename is only atomic within one filesystem.
    It stays open (so locked) until after the rename: a cleaner never takes it for a leftover.
    """
    target = Path(path)
    with named_disk_full(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _locked_temp(target)
        handle = os.fdopen(fd, "wb")
        try:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            _close_quietly(handle)
            raise
        handle.close()
    fsync_dir(target.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], value: Any) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def atomic_write_lines(path: str | os.PathLike[str], lines: Iterable[str]) -> None:
    """Write one string per line (JSONL and friends) atomically."""
    atomic_write_text(path, "".join(line + "\n" for line in lines))


class AtomicWriter:
    """A file written piece by piece that appears under its name only when `commit()` is called.

    For outputs too large to build in memory (an import of millions of records): the pieces go to
    a temp file in the target's folder; leaving the `with` block without a commit removes it,
    whatever closing it raises (a full disk fails the buffered flush of close itself).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.target = Path(path)
        with named_disk_full(self.target):
            self.target.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = _locked_temp(self.target)
        self.handle = os.fdopen(fd, "wb", buffering=1 << 20)
        self._committed = False

    def write(self, data: bytes) -> None:
        try:  # no context manager: this runs once per record of an import of millions
            self.handle.write(data)
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full_error(self.target) from None
            raise

    def commit(self) -> None:
        with named_disk_full(self.target):
            self.handle.flush()
            os.fsync(self.handle.fileno())
            os.replace(self._tmp, self.target)  # still open, so still locked, until it has its name
        self._committed = True
        _close_quietly(self.handle)
        fsync_dir(self.target.parent)

    def __enter__(self) -> "AtomicWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._committed:
            try:
                Path(self._tmp).unlink(missing_ok=True)
            finally:
                _close_quietly(self.handle)


def remove_stale_temp_files(folder: Path, pattern: str = ".*.tmp") -> list[Path]:
    """Remove the temp files in `folder` that no live writer holds; return those removed.

    A regular file is removed only when its flock can be taken (its writer is gone: the OS
    dropped the lock). A temp symlink is removed once its maker is dead, or it is older than
    STALE_LINK_SECONDS (its maker's pid may have been reused).
    """
    removed: list[Path] = []
    for stray in folder.glob(pattern):
        try:
            if stray.is_symlink():
                if not _maker_alive(stray) or time.time() - stray.lstat().st_mtime > STALE_LINK_SECONDS:
                    stray.unlink(missing_ok=True)
                    removed.append(stray)
                continue
            fd = os.open(stray, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone meanwhile, or a folder: not a writer's temp file
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live writer holds it
        try:
            stray.unlink(missing_ok=True)
            removed.append(stray)
        finally:
            os.close(fd)
    return removed


def temp_link_name(link: Path) -> Path:
    """A name for a temp symlink beside `link` that says which process made it (`_maker_alive`)."""
    return link.with_name(f".{link.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")


def _maker_alive(stray: Path) -> bool:
    """Is the process named in a `temp_link_name` alive? A name without a pid counts as alive."""
    maker = stray.name.rsplit(".", 2)[-2].partition("-")[0]
    if not maker.isdigit():
        return True
    try:
        os.kill(int(maker), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def read_json(path: str | os.PathLike[str], default: Any = None) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


def _close_quietly(handle: Any) -> None:
    # Closing flushes the buffer; on a full disk that raises again, after the error already told.
    try:
        handle.close()
    except OSError:
        pass


def fsync_dir(folder: Path) -> None:
    # Without this the rename itself may be lost on power failure on some filesystems.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
