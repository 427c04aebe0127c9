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
    pytest.mark.integration,
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


@pytest.fixture
def tiny_demo(tmp_path: Path, embedded_model: Path) -> Path:
    """The demo project as `tuneui demo` makes it, pointed at a tiny random-weight model.

    This test is about the terminal (keys, quitting while a run trains, reattaching), not about the
    model: the real one is the headless demo's end-to-end test. On the real model the guide's
    baseline alone took over five minutes on a loaded 2-core CI box; the tiny one takes seconds.
    """
    import json

    from backends.local.tiny import build_tiny_model
    from tuneui.demo import SAMPLE, create_demo

    demo = tmp_path / "demo"
    workspace = create_demo(demo)  # `tuneui demo DIR` reuses a project that is already there
    examples = Path(__file__).resolve().parents[2] / "tuneui" / SAMPLE / "examples.jsonl"
    texts = [m.get("content") or "" for line in examples.read_text(encoding="utf-8").splitlines() if line.strip()
             for m in json.loads(line)["messages"]]  # fmt: skip
    settings = workspace.settings()
    settings.models.local = str(build_tiny_model(tmp_path / "tiny", texts))
    workspace.save_settings(settings)
    return demo


def test_demo_walk_quit_while_training_and_reattach(terminal: Terminal, tiny_demo: Path) -> None:
    demo = tiny_demo
    terminal.line(f"{TUNEUI} demo {demo} --steps 12")
    terminal.wait_for("Baseline", "Evaluate", "Check the examples", timeout=240)

    terminal.line("1")
    screen = terminal.wait_for("Split now", timeout=90)
    assert "duplicate" in screen or "contradiction" in screen or "inconsistent" in screen, screen
    terminal.line("yes")
    terminal.wait_for("Next: Baseline", timeout=90)

    terminal.line("/train")
    screen = terminal.wait_for("Run 20", "Leave running", timeout=120)
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
    terminal.wait_for("Next: Export", timeout=300)
    terminal.line("2")  # Open the verdict
    screen = terminal.wait_for("Re-evaluate", "held-out examples", timeout=30)
    assert "beats" in screen or "no clear difference" in screen, screen
    terminal.type("C-q")
