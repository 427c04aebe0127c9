"""End to end in a real terminal: the installed `tuneui` opens the demo, is walked by keystrokes,
quits while a run trains, on reopening finds the run reattached and finished, and goes on to a
verdict on the Evaluate view, at 80x24 and without the mouse."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from backends.runs import list_runs

from .terminal import TMUX, Terminal

TUNEUI = Path(sys.executable).parent / "tuneui"

pytestmark = [
    pytest.mark.skipif(not Path(TMUX).exists() or shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(not TUNEUI.exists(), reason="tuneui is not installed beside this interpreter"),
    pytest.mark.timeout(600),
    pytest.mark.slow,
]


@pytest.fixture
def terminal(tmp_path: Path):
    term = Terminal(80, 24)
    term.start(tmp_path)
    yield term
    term.close()


def test_demo_walk_quit_while_training_and_reattach(terminal: Terminal, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    terminal.line(f"{TUNEUI} demo {demo} --steps 12")
    terminal.wait_for("Baseline", "Evaluate", "Check the examples", timeout=240)

    terminal.line("1")
    screen = terminal.wait_for("Split now", timeout=90)
    assert "duplicate" in screen or "contradiction" in screen or "inconsistent" in screen, screen
    terminal.line("yes")
    terminal.wait_for("Next: Baseline", timeout=90)

    terminal.line("/train")
    screen = terminal.wait_for("Run 20", "Leave it running", timeout=120)
    runs = list_runs(demo / "runs")
    assert len(runs) == 1
    run = runs[0]
    terminal.wait_for("running", timeout=120)
    terminal.type("l")
    terminal.wait_for("reattaches", timeout=30)
    status = run.job_status().status
    assert status in ("queued", "running"), f"the run should still be training after the app quit, not {status}"
    pid = int(run.pid_path.read_text().strip())
    os.kill(pid, 0)  # the detached worker outlived the app

    terminal.line(f"{TUNEUI} --project {demo}")
    terminal.wait_for(f"Run {run.run_id} is still", "I reattached", timeout=60)
    terminal.wait_for(f"Run {run.run_id} succeeded", timeout=300)
    assert run.job_status().status == "succeeded"
    terminal.type("F4")
    terminal.wait_for("succeeded", "step 12/12", timeout=30)
    terminal.type("Escape")

    # On to a verdict the way a newcomer would: answering the guide's questions, by keyboard alone.
    # It asks for the baseline first (the prompt the tuned model must beat), then the cost.
    terminal.wait_for("Next: Baseline", timeout=30)
    terminal.line("1")
    terminal.wait_for("Next: Cost", timeout=300)
    terminal.line("1")
    terminal.wait_for("Next: Evaluate", timeout=120)
    terminal.line("1")
    terminal.wait_for("All five steps are done", timeout=300)
    terminal.line("1")
    screen = terminal.wait_for("Re-evaluate", "held-out examples", timeout=30)
    assert "beats" in screen or "no clear difference" in screen, screen
    terminal.type("C-q")
