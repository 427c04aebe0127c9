"""Unpacking a downloaded adapter archive (zip, tar, tar.gz, tar.zst) into a run folder, safely.

The archive comes from a provider, so it is treated as hostile: members are streamed one block at
a time (memory stays flat whatever the archive claims), only plain files and folders are accepted
(links, FIFOs and devices are refused, as are absolute paths and `..`), and unpacking stops at the
first of `ArchiveLimits`: too many bytes, too many members, or a compression ratio no real adapter
has (a "bomb"). A truncated or corrupt archive is a BackendError like the rest, never an EOFError.
The archive is unpacked beside the target and renamed into place, so `adapter/` is whole or absent.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import tarfile
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Iterator

from tuneui.core.backend import BackendError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GIB = 1024**3
BLOCK = 1024 * 1024
# A LoRA adapter is mostly float weights, which barely compress (ratio ~1.1; ~2 with untrained,
# all-zero B matrices). A ratio this high past RATIO_FLOOR bytes is zeros or repetition: a bomb,
# refused before it fills the disk.
MAX_RATIO = 20.0
RATIO_FLOOR = 64 * 1024 * 1024
REFUSED_HINT = "Refused for safety. The hosted model still works; report the archive to the provider."


@dataclass(frozen=True)
class ArchiveLimits:
    """How much an adapter download may hold. The defaults sit far above a real LoRA adapter (a
    rank-64 adapter of a 70B model is under 2 GiB in a handful of files)."""

    max_bytes: int = 16 * GIB  # downloaded, and again unpacked
    max_members: int = 1000

    @classmethod
    def from_settings(cls, settings: Any) -> "ArchiveLimits":
        hosted = getattr(settings, "hosted", None)
        if hosted is None:
            return cls()
        return cls(int(hosted.adapter_max_gib * GIB), int(hosted.adapter_max_files))


class ArchiveError(BackendError):
    """The archive is damaged, hostile or too large; retrying the same download will not help."""


def extract_archive(archive: Path, target: Path, limits: ArchiveLimits = ArchiveLimits()) -> None:
    """Unpack `archive` into `target`; a single top-level folder is unwrapped."""
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        budget = _Budget(archive.name, archive.stat().st_size, limits)
        try:
            _extract_into(archive, staging, budget)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, ValueError) as exc:
            raise ArchiveError(f"The adapter archive {archive.name} is damaged: {type(exc).__name__}: {exc}"[:300], REFUSED_HINT) from None
        root = _single_folder(staging) or staging
        shutil.rmtree(target, ignore_errors=True)
        root.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class _Budget:
    """Counts what unpacking wrote, and stops it at the first limit crossed."""

    def __init__(self, name: str, compressed: int, limits: ArchiveLimits) -> None:
        self.name, self.compressed, self.limits = name, max(compressed, 1), limits
        self.bytes = 0
        self.members = 0

    def member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveError(f"The adapter archive {self.name} holds more than {self.limits.max_members} files", REFUSED_HINT)

    def wrote(self, count: int) -> None:
        self.bytes += count
        if self.bytes > self.limits.max_bytes:
            raise ArchiveError(
                f"The adapter archive {self.name} unpacks to more than {self.limits.max_bytes / GIB:.1f} GiB",
                "Raise `[hosted] adapter_max_gib` in tuneui.toml if the adapter is really that large.",
            )
        if self.bytes > RATIO_FLOOR and self.bytes > MAX_RATIO * self.compressed:
            raise ArchiveError(
                f"The adapter archive {self.name} expands more than {MAX_RATIO:.0f}-fold (an archive bomb)", REFUSED_HINT
            )


def _extract_into(archive: Path, staging: Path, budget: _Budget) -> None:
    with open(archive, "rb") as handle:
        magic = handle.read(4)
    if zipfile.is_zipfile(archive):
        _extract_zip(archive, staging, budget)
    elif magic == ZSTD_MAGIC:
        with _unzstd(archive) as stream, tarfile.open(fileobj=stream, mode="r|") as bundle:
            _extract_tar(bundle, staging, budget)
    elif tarfile.is_tarfile(archive):
        # "r|*": a stream, read once front to back; never an index of every member in memory.
        with tarfile.open(archive, mode="r|*") as bundle:
            _extract_tar(bundle, staging, budget)
    else:
        raise ArchiveError(f"{archive.name} is not an archive tuneui can unpack", "Expected zip, tar, tar.gz or tar.zst.")


def _extract_tar(bundle: tarfile.TarFile, staging: Path, budget: _Budget) -> None:
    for member in bundle:
        budget.member()
        destination = _destination(staging, member.name)
        if member.isdir():
            destination.mkdir(parents=True, exist_ok=True)
        elif member.isreg():
            source = bundle.extractfile(member)
            assert source is not None  # a regular member always has content
            _copy(source, destination, budget)
        else:
            kind = "link" if member.issym() or member.islnk() else "special file (FIFO or device)"
            raise ArchiveError(f"The adapter archive holds a {kind}: {member.name!r}", REFUSED_HINT)


def _extract_zip(archive: Path, staging: Path, budget: _Budget) -> None:
    # ZipFile reads the whole central directory into memory first: count its entries before.
    if _zip_entries(archive) > budget.limits.max_members:
        raise ArchiveError(f"The adapter archive {archive.name} holds more than {budget.limits.max_members} files", REFUSED_HINT)
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            budget.member()
            destination = _destination(staging, info.filename)
            file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip tool stored none
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
            elif file_type and file_type != stat.S_IFREG:
                raise ArchiveError(f"The adapter archive holds a link or special file: {info.filename!r}", REFUSED_HINT)
            else:
                with bundle.open(info) as source:
                    _copy(source, destination, budget)


def _zip_entries(archive: Path) -> int:
    """The entry count the zip's end-of-central-directory record declares. A ZIP64 archive writes
    0xFFFF there (65535, over any real adapter's count), so it is refused under the default limit."""
    with open(archive, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 65_557))  # the record (22 bytes) plus the longest comment
        tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise ArchiveError(f"The adapter archive {archive.name} is damaged: no zip directory", REFUSED_HINT)
    return int.from_bytes(tail[at + 10 : at + 12], "little")


def _destination(staging: Path, name: str) -> Path:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or not path.parts:
        raise ArchiveError(f"The adapter archive holds an unsafe path: {name!r}", REFUSED_HINT)
    return staging.joinpath(*path.parts)


def _copy(source: IO[bytes], destination: Path, budget: _Budget) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "xb") as out:  # "x": a second member of the same name is refused, not merged
        while block := source.read(BLOCK):
            budget.wrote(len(block))
            out.write(block)


@contextmanager
def _unzstd(archive: Path) -> Iterator[IO[bytes]]:
    """A decompressed stream of a .zst file: the `zstandard` module, else the `zstd` program."""
    try:
        import zstandard
    except ImportError:
        zstandard = None
    if zstandard is not None:
        try:
            with open(archive, "rb") as handle, zstandard.ZstdDecompressor().stream_reader(handle) as stream:
                yield stream
        except zstandard.ZstdError as exc:
            raise ArchiveError(f"The adapter archive {archive.name} is damaged: {exc}"[:300], REFUSED_HINT) from None
        return
    if shutil.which("zstd") is None:
        raise ArchiveError(
            f"{archive.name} is zstd-compressed and no zstd decoder is available",
            "Install `zstandard` (pip) or the `zstd` program, then run `tuneui train --resume RUN` again.",
        )
    process = subprocess.Popen(["zstd", "-dc", str(archive)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        # A truncated or corrupt .zst ends the stream early: tarfile then reports the damage.
        yield process.stdout
    finally:
        process.kill()
        process.wait()


def _single_folder(staging: Path) -> Path | None:
    entries = list(staging.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else None
