"""Peak memory of `tuneui data import` on many tiny records: it must stay flat, not grow with the file.

    .venv/bin/python bench/dataset_import.py [--records 1000000]

Writes a JSONL file of tiny chat records (a few words each), imports it into a fresh project in
its own interpreter, and prints its wall time and peak resident memory (ru_maxrss of the child).
Goal: 1,000,000 records under 1 GiB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
GOAL_MB = 1024


def make_file(path: Path, records: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for n in range(records):
            record = {"messages": [{"role": "user", "content": f"q{n}"}, {"role": "assistant", "content": f"a{n % 7}"}]}
            handle.write(json.dumps(record) + "\n")


def peak_of_import(source: Path) -> tuple[float, float, str]:
    """(seconds, peak MB, last line of output) of `tuneui data import SOURCE` in a new project."""
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "project"
        subprocess.run([sys.executable, "-m", "tuneui", "init", str(project)], check=True, capture_output=True, cwd=PROJECT_ROOT)
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "tuneui", "--project", str(project), "data", "import", str(source)],
            capture_output=True, text=True, cwd=PROJECT_ROOT,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if out.returncode != 0:
            raise SystemExit(f"import failed ({out.returncode}): {out.stderr[-2000:]}")
        return seconds, peak_mb, out.stdout.strip().splitlines()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    source = OUT / f"tiny_{args.records}.jsonl"
    if not source.exists():
        make_file(source, args.records)
    print(f"file: {source} ({source.stat().st_size / 1e6:.0f} MB, {args.records:,} records)")
    seconds, peak_mb, said = peak_of_import(source)
    print(said)
    print(f"tuneui data import: {seconds:.1f} s wall, peak {peak_mb:.0f} MB (goal < {GOAL_MB} MB): {'ok' if peak_mb < GOAL_MB else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
