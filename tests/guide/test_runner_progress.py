"""The runner reads a step's stderr as the child writes it: progress reaches the screen while the
step runs, and cancel stops the child (issue 21). Real child processes: integration tier."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from tuneui.core.workspace import init_workspace
from tuneui.guide.runner import StepRunner

pytestmark = pytest.mark.integration

FAKE_STEP = """#!/bin/sh
# Stands in for `python -m tuneui ... baseline --json`: a count on stderr, then the JSON.
for n in 0 2 4 6; do
  echo "progress: answer $n of 6 (baseline, system)" >&2
  sleep 0.3
done
echo '{"best": "system", "variants": {}}'
"""

HANGING_STEP = """#!/bin/sh
echo "progress: answer 0 of 6 (baseline, system)" >&2
exec sleep 60
"""


def _script(tmp_path: Path, text: str) -> str:
    path = tmp_path / "fake-python"
    path.write_text(text, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_progress_lines_arrive_while_the_step_runs(tmp_path: Path) -> None:
    heard: list[tuple[float, str]] = []
    runner = StepRunner(init_workspace(tmp_path / "p"), python=_script(tmp_path, FAKE_STEP))
    runner.on_progress = lambda line: heard.append((time.monotonic(), line))
    started = time.monotonic()
    result = runner.run_command(["baseline"])
    ended = time.monotonic()
    assert result.ok and result.data["best"] == "system"
    assert [line for _, line in heard] == [f"progress: answer {n} of 6 (baseline, system)" for n in (0, 2, 4, 6)]
    assert heard[0][0] - started < (ended - started) / 2, "the first count came long before the end"


def test_cancel_stops_a_step_and_says_so(tmp_path: Path) -> None:
    runner = StepRunner(init_workspace(tmp_path / "p"), python=_script(tmp_path, HANGING_STEP))
    heard = threading.Event()
    runner.on_progress = lambda line: heard.set()
    threading.Thread(target=lambda: (heard.wait(10), runner.cancel.set()), daemon=True).start()
    started = time.monotonic()
    result = runner.run_command(["baseline"])
    assert time.monotonic() - started < 15
    assert not result.ok and "cancelled" in result.title
    assert os.name != "posix" or result.hint
