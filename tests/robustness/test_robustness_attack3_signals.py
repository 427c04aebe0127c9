"""Children end with their parent, whatever signal ends it (issue 24, findings 13 and 15).

Signals go to the command's own PID, as a supervisor (systemd, a CI runner) or a dropped ssh
session sends them: `tuneui baseline`, `tuneui demo --headless` and the app each have a step child
and an inference child by the time the signal comes. The detached training worker is excepted by
design (tests/ui/test_ui_terminal.py checks that it outlives the app). The app also gives the
terminal back as it found it: main screen, no mouse tracking, cursor shown.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ui.terminal import TMUX, Terminal

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TUNEUI = Path(sys.executable).parent / "tuneui"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                after = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(after[1]), after[0])
    return found


def _descendants(pid: int) -> set[int]:
    table = _processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, (parent, _) in table.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    table = _processes()
    return {pid for pid in pids if pid in table and table[pid][1] not in ("Z", "X")}


def _wait_for_descendants(pid: int, at_least: int, timeout: float = 240) -> set[int]:
    """The process tree under `pid` once it has `at_least` python processes (step child, inference child)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pythons = {p for p in _descendants(pid) if b"python" in _cmdline(p)}
        if len(pythons) >= at_least:
            time.sleep(1.0)  # let the inference child get into its model load
            return _descendants(pid)
        time.sleep(0.1)
    raise AssertionError(f"{pid} never had {at_least} python children: {_descendants(pid)}")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _gone_within(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _alive(pids)


def _kill_all(pids: set[int]) -> None:
    for pid in _alive(pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def tiny_project(tmp_path: Path, embedded_model: Path) -> Path:
    """The demo project, split, pointed at a tiny random-weight model (the test is about processes)."""
    from backends.local.tiny import build_tiny_model
    from tuneui.demo import SAMPLE, create_demo

    demo = tmp_path / "demo"
    workspace = create_demo(demo)
    examples = PROJECT_ROOT / "tuneui" / SAMPLE / "examples.jsonl"
    texts = [m.get("content") or "" for line in examples.read_text(encoding="utf-8").splitlines() if line.strip()
             for m in json.loads(line)["messages"]]  # fmt: skip
    settings = workspace.settings()
    settings.models.local = str(build_tiny_model(tmp_path / "tiny", texts))
    workspace.save_settings(settings)
    return demo


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}


def _split(project: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tuneui", "--project", str(project), "data", "split"],
                          capture_output=True, text=True, env=_env(), timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_signal_to_baseline_ends_its_inference_child(tiny_project: Path, name: str) -> None:
    signum = getattr(signal, name)
    _split(tiny_project)
    command = subprocess.Popen([sys.executable, "-m", "tuneui", "--project", str(tiny_project), "baseline", "--backend", "local"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())  # fmt: skip
    tree: set[int] = set()
    try:
        tree = _wait_for_descendants(command.pid, 1)
        os.kill(command.pid, signum)
        _, err = command.communicate(timeout=30)
        assert _gone_within(tree, 15) == set(), f"left running after {signal.Signals(signum).name}"
        assert "Traceback" not in err and "failed unexpectedly" not in err, err
    finally:
        _kill_all(tree | {command.pid})


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGKILL"])
def test_a_signal_to_the_headless_demo_ends_its_step_and_inference_children(tiny_project: Path, name: str) -> None:
    signum = getattr(signal, name)
    command = subprocess.Popen([sys.executable, "-m", "tuneui", "demo", str(tiny_project), "--headless", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())  # fmt: skip
    tree: set[int] = set()
    try:
        tree = _wait_for_descendants(command.pid, 2)  # `tuneui baseline` and its inference child
        os.kill(command.pid, signum)
        command.communicate(timeout=30)
        # SIGKILL cannot be caught: the children notice their parent is gone on their own.
        assert _gone_within(tree, 20) == set(), f"left running after {signal.Signals(signum).name}"
    finally:
        _kill_all(tree | {command.pid})


# -- the app, in a real terminal --------------------------------------------------------------------

needs_tmux = pytest.mark.skipif(not Path(TMUX).exists() or shutil.which("tmux") is None or not TUNEUI.exists(),
                                reason="needs tmux and the installed tuneui")  # fmt: skip


def _pane(terminal: Terminal, name: str) -> str:
    return terminal._tmux("display-message", "-p", "-t", "main", f"#{{{name}}}").stdout.strip()


def _app_pid(terminal: Terminal, timeout: float = 60) -> int:
    shell = int(_pane(terminal, "pane_pid"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in _descendants(shell):
            if b"tuneui" in _cmdline(pid):
                return pid
        time.sleep(0.1)
    raise AssertionError("the app did not start")


@pytest.fixture
def terminal(tmp_path: Path):
    term = Terminal(100, 30)
    term.start(tmp_path)
    yield term
    term.close()


@needs_tmux
@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "ctrl+q"])
def test_the_app_ends_its_children_and_restores_the_terminal(terminal: Terminal, tiny_project: Path, how: str) -> None:
    _split(tiny_project)
    terminal.line(f"{TUNEUI} --project {tiny_project}")
    app = _app_pid(terminal)
    terminal.wait_for("Baseline", timeout=120)
    assert _pane(terminal, "alternate_on") == "1"
    terminal.line("/baseline")
    tree: set[int] = set()
    try:
        tree = _wait_for_descendants(app, 2)
        if how == "ctrl+q":
            terminal.type("C-q")
        else:
            os.kill(app, getattr(signal, how))
        assert _gone_within({app}, 20) == set(), f"the app is still running after {how}"
        assert _gone_within(tree, 20) == set(), f"children left running after {how}"
        if how != "SIGHUP":  # after a hangup there is no terminal to restore
            terminal.wait_for("bash-", timeout=10)  # the shell prompt (bash --norc) is back
            assert _pane(terminal, "alternate_on") == "0", "left in the alternate screen"
            assert _pane(terminal, "mouse_any_flag") == "0" and _pane(terminal, "mouse_button_flag") == "0", "mouse tracking left on"
            assert _pane(terminal, "cursor_flag") == "1", "cursor left hidden"
    finally:
        _kill_all(tree | {app})
