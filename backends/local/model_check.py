"""Is a prepared model folder still what its preparation wrote? And what a killed preparation left.

Standard library only: this runs in the UI process, before a step hands the folder to torch.

The preparation writes, into `tuneui_source.json`, every file's size, SHA-256 and modification
time. Each use compares sizes and times (a stat per file, microseconds): a cut-short file is caught
by its size. A file whose time changed since it was hashed (anything that wrote to it, a `dd` that
zeroed its middle included) is hashed again, about a second for the 538 MB SmolLM2, and the record
takes the new time when the hash still matches (a copy, a `touch`). Hashing every file at every
use would add that second to every command; a write that keeps the old time on purpose is not what
this guards against. A folder from an older tuneui has sizes and hashes recorded at its first use,
after a structural check of its safetensors files (a cut-short one fails it).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import struct
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from tuneui.core.files import atomic_write_json

SOURCE_FILE = "tuneui_source.json"  # written last into a finished folder
LOCK_FILE = ".prepare.lock"  # held by the one process preparing a model in this cache
SKIPPED_PARTS = (".cache",)  # the hub client's download bookkeeping, not the model


def model_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != SOURCE_FILE
                  and not set(p.relative_to(folder).parts) & set(SKIPPED_PARTS))  # fmt: skip


def sha256_of(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def describe_files(folder: Path) -> dict[str, dict[str, Any]]:
    """What the record keeps of each file: size, SHA-256, modification time."""
    described = {}
    for path in model_files(folder):
        stat = path.stat()
        described[path.relative_to(folder).as_posix()] = {"size": stat.st_size, "sha256": sha256_of(path), "mtime_ns": stat.st_mtime_ns}
    return described


def read_record(folder: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def damage(folder: Path) -> str | None:
    """Why a prepared folder cannot be used as it is, in words; None when it is whole."""
    record = read_record(folder)
    if record is None:
        return f"its {SOURCE_FILE} is missing or unreadable"
    files = record.get("files")
    if not isinstance(files, dict) or not files:
        return _adopt(folder, record)
    changed: list[str] = []
    for name, expected in files.items():
        try:
            stat = (folder / name).stat()
        except OSError:
            return f"{name} is missing"
        if stat.st_size != expected.get("size"):
            return f"{name} is {stat.st_size:,} bytes where {int(expected.get('size') or 0):,} were written (cut short or overwritten)"
        if stat.st_mtime_ns != expected.get("mtime_ns"):
            changed.append(name)
    for name in changed:
        if sha256_of(folder / name) != files[name].get("sha256"):
            return f"{name} no longer matches the checksum written when it was prepared (changed or damaged on disk)"
        files[name]["mtime_ns"] = (folder / name).stat().st_mtime_ns
    if changed:
        _rewrite(folder, record)
    return None


def _adopt(folder: Path, record: dict[str, Any]) -> str | None:
    """A folder an older tuneui prepared, without sizes and hashes: check its safetensors files'
    structure, then record sizes and hashes from now on."""
    for path in folder.glob("*.safetensors"):
        problem = safetensors_problem(path)
        if problem:
            return problem
    record["files"] = describe_files(folder)
    _rewrite(folder, record)
    return None


def safetensors_problem(path: Path) -> str | None:
    """A safetensors file is an 8-byte header length, a JSON header, then the tensors' bytes; its
    size must be where the last tensor ends. None when it is."""
    try:
        with open(path, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length)) if length < 100_000_000 else None
        size = path.stat().st_size
    except (OSError, ValueError, struct.error):
        return f"{path.name} is not a readable safetensors file (its header is damaged)"
    if not isinstance(header, dict):
        return f"{path.name} is not a readable safetensors file (its header is damaged)"
    ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__" and isinstance(entry, dict)]
    expected = 8 + length + max(ends, default=0)
    if size != expected:
        return f"{path.name} is {size:,} bytes where its header says {expected:,} (cut short)"
    return None


def _rewrite(folder: Path, record: dict[str, Any]) -> None:
    try:
        atomic_write_json(folder / SOURCE_FILE, record)
    except Exception:  # a read-only cache: the check still holds, it is only redone next time
        pass


@contextmanager
def preparing(cache: Path, wait: bool = True) -> Iterator[bool]:
    """Hold the cache's preparation lock; yields whether it was taken (always, when `wait`)."""
    handle = open(cache / LOCK_FILE, "a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        handle.close()


def remove_stale_staging(cache: Path, model: str) -> list[Path]:
    """Remove the temp folders (`.MODEL.xxxx`) a killed preparation left. Call with the preparation
    lock held: only its holder makes such folders, so every one found then is a dead one's."""
    removed = []
    for stray in cache.glob(f".{model}.*"):
        if stray.is_dir() and not stray.is_symlink():
            shutil.rmtree(stray, ignore_errors=True)
            removed.append(stray)
    return removed


def set_aside(folder: Path) -> None:
    """Move a damaged folder out of the way (a staging name: the next cleanup removes what is left)."""
    aside = folder.with_name(f".{folder.name}.damaged-{os.getpid()}")
    try:
        os.replace(folder, aside)
    except FileNotFoundError:
        return  # another process set it aside first
    shutil.rmtree(aside, ignore_errors=True)


def writable_problem(cache: Path) -> str | None:
    """Why models cannot be prepared in `cache` (a read-only file system or folder), or None."""
    existing = cache
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if os.access(existing, os.W_OK):
        return None
    return f"{existing} is read-only"
