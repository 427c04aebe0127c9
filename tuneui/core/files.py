"""Atomic file writes: a crash leaves either the old file or the new one, never half of either."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to a temp file in the same folder, fsync it, then rename it over `path`.

    The temp file must live in the target's folder: rename is only atomic within one filesystem.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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
    a temp file in the target's folder; leaving the `with` block without a commit removes it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.target = Path(path)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=self.target.parent)
        self.handle = os.fdopen(fd, "wb", buffering=1 << 20)
        self._committed = False

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def commit(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self._tmp, self.target)
        self._committed = True
        fsync_dir(self.target.parent)

    def __enter__(self) -> "AtomicWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._committed:
            self.handle.close()
            Path(self._tmp).unlink(missing_ok=True)


def read_json(path: str | os.PathLike[str], default: Any = None) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


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
