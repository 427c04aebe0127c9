"""Unpacking a downloaded adapter archive (zip, tar, tar.gz, tar.zst) into a run folder, safely.

Members that would land outside the target (absolute paths, `..`, links) are refused. The
archive is unpacked beside the target and renamed into place, so `adapter/` is whole or absent.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

from backends.base import BackendError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def extract_archive(archive: Path, target: Path) -> None:
    """Unpack `archive` into `target`; a single top-level folder is unwrapped."""
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _extract_into(archive, staging)
        root = _single_folder(staging) or staging
        shutil.rmtree(target, ignore_errors=True)
        root.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract_into(archive: Path, staging: Path) -> None:
    with open(archive, "rb") as handle:
        magic = handle.read(4)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for name in bundle.namelist():
                _check_member(name)
            bundle.extractall(staging)
    elif magic == ZSTD_MAGIC:
        with tarfile.open(fileobj=io.BytesIO(_unzstd(archive)), mode="r:") as bundle:
            _extract_tar(bundle, staging)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive, mode="r:*") as bundle:
            _extract_tar(bundle, staging)
    else:
        raise BackendError(f"{archive.name} is not an archive tuneui can unpack", "Expected zip, tar, tar.gz or tar.zst.")


def _extract_tar(bundle: tarfile.TarFile, staging: Path) -> None:
    for member in bundle.getmembers():
        _check_member(member.name)
        if member.issym() or member.islnk():
            raise BackendError(f"The adapter archive holds a link ({member.name})", "Refused for safety; download it by hand.")
    bundle.extractall(staging, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))


def _check_member(name: str) -> None:
    path = Path(name)
    if path.is_absolute() or ".." in path.parts:
        raise BackendError(f"The adapter archive holds an unsafe path ({name})", "Refused for safety; download it by hand.")


def _unzstd(archive: Path) -> bytes:
    # Python 3.11 has no zstd; use the `zstandard` module when installed, else the `zstd` program.
    try:
        import zstandard

        with open(archive, "rb") as handle:
            return zstandard.ZstdDecompressor().stream_reader(handle).read()
    except ImportError:
        pass
    if shutil.which("zstd") is None:
        raise BackendError(
            f"{archive.name} is zstd-compressed and no zstd decoder is available",
            f"Install `zstandard` (pip) or the `zstd` program, then unpack {archive} with `tar --zstd -xf`.",
        )
    done = subprocess.run(["zstd", "-dc", str(archive)], capture_output=True, check=False)
    if done.returncode != 0:
        raise BackendError(f"zstd could not unpack {archive.name}", done.stderr.decode(errors="replace")[:200])
    return done.stdout


def _single_folder(staging: Path) -> Path | None:
    entries = list(staging.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else None
