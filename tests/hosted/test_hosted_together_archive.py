"""Adapter archives from a provider are hostile until unpacked: bombs, damage and special members
are a BackendError, memory stays flat, and nothing is left half-written."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

from tuneui.core.backend import BackendError
from backends.hosted.archive import ArchiveLimits, extract_archive
from tests.conftest import PROJECT_ROOT

GIB = 1024**3
CHUNK = 16 * 1024 * 1024
RSS_LIMIT_MB = 512


def _bomb_header(size: int) -> bytes:
    info = tarfile.TarInfo("adapter/adapter_model.safetensors")
    info.size = size
    return info.tobuf()


def _gzip_bomb(path: Path, size: int = 2 * GIB) -> None:
    """A tar.gz of one `size`-byte file of zeros, about a thousandth of that on disk. After a full
    flush deflate starts afresh, so one compressed 16 MiB block of zeros can be repeated; the
    trailer's checksum is never reached, as unpacking must stop long before."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = deflate.compress(_bomb_header(size)) + deflate.flush(zlib.Z_FULL_FLUSH)
    zeros = deflate.compress(b"\0" * CHUNK) + deflate.flush(zlib.Z_FULL_FLUSH)
    with open(path, "wb") as out:
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + head)  # a gzip header, then raw deflate
        for _ in range(size // CHUNK):
            out.write(zeros)


def _zstd_bomb(path: Path, size: int = 2 * GIB) -> None:
    """The same with zstd frames (also concatenable): the old code held the whole stream in memory."""
    def zstd(data: bytes) -> bytes:
        return subprocess.run(["zstd", "-19", "-c"], input=data, capture_output=True, check=True).stdout

    zeros = zstd(b"\0" * CHUNK)
    with open(path, "wb") as out:
        out.write(zstd(_bomb_header(size)))
        for _ in range(size // CHUNK):
            out.write(zeros)


def _unpack_in_a_child(archive: Path, target: Path) -> tuple[str, float]:
    """(the error title, or "ok"; peak RSS in MB) of a fresh process unpacking `archive`."""
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from tuneui.core.backend import BackendError\n"
        "from backends.hosted.archive import extract_archive\n"
        "try:\n"
        "    extract_archive(Path(sys.argv[1]), Path(sys.argv[2]))\n"
        "    outcome = 'ok'\n"
        "except BackendError as exc:\n"
        "    outcome = exc.title\n"
        # VmHWM belongs to this process image alone: ru_maxrss keeps the forking parent's peak
        # across exec, so a large pytest process would be counted as the child's memory.
        "hwm = [line for line in open('/proc/self/status') if line.startswith('VmHWM:')]\n"
        "print(int(hwm[0].split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
        "print(outcome)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(archive), str(target)], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=120, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rss, outcome = done.stdout.strip().splitlines()
    return outcome, float(rss)


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["tar.gz", "tar.zst"])
def test_an_archive_bomb_is_refused_with_flat_memory_and_nothing_left(tmp_path: Path, kind: str) -> None:
    if kind == "tar.zst" and shutil.which("zstd") is None:
        pytest.skip("the zstd program is needed to make a .tar.zst")
    archive = tmp_path / f"adapter.{kind}"
    (_gzip_bomb if kind == "tar.gz" else _zstd_bomb)(archive)
    assert archive.stat().st_size < 4 * 1024 * 1024  # a few MB that claim 2 GiB

    outcome, peak_rss_mb = _unpack_in_a_child(archive, tmp_path / "adapter")
    assert "archive bomb" in outcome
    assert peak_rss_mb < RSS_LIMIT_MB
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name]  # no adapter/, no staging left


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as bundle:
        for info, data in members:
            bundle.addfile(info, io.BytesIO(data) if data else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, len(data), link
    return info, data


GOOD = _member("adapter/adapter_config.json", data=json.dumps({"r": 8}).encode())


@pytest.mark.parametrize(
    "member, says",
    [
        (_member("adapter/pipe", tarfile.FIFOTYPE), "special file"),
        (_member("adapter/dev", tarfile.CHRTYPE), "special file"),
        (_member("adapter/block", tarfile.BLKTYPE), "special file"),
        (_member("adapter/link", tarfile.SYMTYPE, link="/etc/passwd"), "link"),
        (_member("adapter/hard", tarfile.LNKTYPE, link="adapter/adapter_config.json"), "link"),
        (_member("/etc/cron.d/evil", data=b"x"), "unsafe path"),
        (_member("adapter/../../evil", data=b"x"), "unsafe path"),
    ],
)
def test_members_that_are_not_plain_files_or_leave_the_folder_are_refused(tmp_path: Path, member, says) -> None:
    archive = _tar(tmp_path / "adapter.tar.gz", [GOOD, member])
    with pytest.raises(BackendError, match=says):
        extract_archive(archive, tmp_path / "adapter")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter.tar.gz"]


def test_a_truncated_or_garbled_archive_is_a_backend_error(tmp_path: Path) -> None:
    whole = _tar(tmp_path / "whole.tar.gz", [GOOD, _member("adapter/w.safetensors", data=os.urandom(200_000))]).read_bytes()
    for name, data in (("cut.tar.gz", whole[: len(whole) // 2]), ("garbled.tar.gz", whole[:100] + b"\xff" * 500 + whole[600:])):
        archive = tmp_path / name
        archive.write_bytes(data)
        with pytest.raises(BackendError):
            extract_archive(archive, tmp_path / "adapter")
        assert not (tmp_path / "adapter").exists() and not (tmp_path / "adapter.partial").exists()


def test_too_many_members_or_bytes_stop_at_the_configured_limit(tmp_path: Path) -> None:
    many = _tar(tmp_path / "many.tar.gz", [_member(f"adapter/{i}.txt", data=b"x") for i in range(30)])
    with pytest.raises(BackendError, match="more than 20 files"):
        extract_archive(many, tmp_path / "adapter", ArchiveLimits(max_bytes=GIB, max_members=20))
    big = _tar(tmp_path / "big.tar", [_member("adapter/w.safetensors", data=os.urandom(300_000))], mode="w")
    with pytest.raises(BackendError, match="adapter_max_gib"):
        extract_archive(big, tmp_path / "adapter", ArchiveLimits(max_bytes=100_000, max_members=20))
    extract_archive(big, tmp_path / "adapter", ArchiveLimits(max_bytes=1_000_000, max_members=20))
    assert (tmp_path / "adapter" / "w.safetensors").stat().st_size == 300_000


def test_a_zip_with_a_symlink_is_refused_and_a_plain_zip_unpacks(tmp_path: Path) -> None:
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as bundle:
        bundle.writestr("adapter_config.json", "{}")
    extract_archive(plain, tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_config.json").read_text() == "{}"

    linked = tmp_path / "linked.zip"
    with zipfile.ZipFile(linked, "w") as bundle:
        info = zipfile.ZipInfo("adapter_model.safetensors")
        info.external_attr = (0o120777 << 16)  # a symlink, as `zip --symlinks` stores it
        bundle.writestr(info, "/etc/passwd")
    with pytest.raises(BackendError, match="link or special file"):
        extract_archive(linked, tmp_path / "adapter2")


def test_a_zip_declaring_too_many_members_is_refused_before_its_directory_is_read(tmp_path: Path) -> None:
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as bundle:
        for i in range(30):
            bundle.writestr(f"{i}.txt", "x")
    with pytest.raises(BackendError, match="more than 20 files"):
        extract_archive(many, tmp_path / "adapter", ArchiveLimits(max_bytes=GIB, max_members=20))
    cut = tmp_path / "cut.zip"
    cut.write_bytes(many.read_bytes()[:-30])  # the end-of-directory record is gone
    with pytest.raises(BackendError):
        extract_archive(cut, tmp_path / "adapter")
