"""Peak memory of unpacking a hostile adapter archive: tuneui against the way it used to be done.

    .venv/bin/python bench/archive_bomb.py [--gib 2]

Builds a .tar.zst that claims one `--gib` GiB file of zeros (a few hundred kB on disk: zstd
frames can be concatenated, so one compressed 16 MiB block of zeros is repeated). Then, each in
its own fresh interpreter so its peak memory (ru_maxrss) is its own:

- reference: the old code path, `zstd -dc` captured into memory and opened with tarfile from a
  BytesIO (what tuneui did before streaming), stopped at nothing;
- tuneui: `backends.hosted.archive.extract_archive` with its default limits.

Prints both peak memories, the ratio, the time each took and what tuneui answered. Goal: tuneui
refuses the bomb with a peak under 512 MB. Needs the `zstd` program.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 16 * 1024 * 1024

REFERENCE = """
import io, resource, subprocess, sys, tarfile
data = subprocess.run(["zstd", "-dc", sys.argv[1]], capture_output=True, check=False).stdout
with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as bundle:
    names = bundle.getnames()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(f"read {len(data) / 2**30:.2f} GiB into memory")
"""

TUNEUI = """
import resource, sys
from pathlib import Path
from tuneui.core.backend import BackendError
from backends.hosted.archive import extract_archive
try:
    extract_archive(Path(sys.argv[1]), Path(sys.argv[2]))
    outcome = "unpacked it"
except BackendError as exc:
    outcome = exc.title
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(outcome)
"""


def build_bomb(path: Path, size: int) -> None:
    def zstd(data: bytes) -> bytes:
        return subprocess.run(["zstd", "-19", "-c"], input=data, capture_output=True, check=True).stdout

    info = tarfile.TarInfo("adapter/adapter_model.safetensors")
    info.size = size
    zeros = zstd(b"\0" * CHUNK)
    with open(path, "wb") as out:
        out.write(zstd(info.tobuf()))
        for _ in range(size // CHUNK):
            out.write(zeros)


def measure(script: str, *args: str) -> tuple[float, float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=ROOT, check=True)
    elapsed = time.perf_counter() - started
    rss, outcome = done.stdout.strip().splitlines()
    return float(rss), elapsed, outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0, help="size the bomb claims, in GiB (default 2)")
    args = parser.parse_args()
    if shutil.which("zstd") is None:
        print("needs the zstd program", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        bomb = Path(scratch) / "adapter.tar.zst"
        build_bomb(bomb, int(args.gib * 1024**3))
        print(f"bomb: {bomb.stat().st_size / 1024:.0f} kB claiming {args.gib:g} GiB")
        ref_rss, ref_s, ref_out = measure(REFERENCE, str(bomb))
        print(f"reference (in memory): peak {ref_rss:,.0f} MB, {ref_s:.2f} s, {ref_out}")
        new_rss, new_s, new_out = measure(TUNEUI, str(bomb), str(Path(scratch) / "adapter"))
        print(f"tuneui (streamed):     peak {new_rss:,.0f} MB, {new_s:.2f} s, {new_out}")
        print(f"peak memory ratio tuneui/reference: {new_rss / ref_rss:.3f}  (goal: tuneui under 512 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
