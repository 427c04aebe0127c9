"""Command lines for tuneui's own child processes: this installation's code, whatever the working folder.

`python -m MODULE` puts the working folder first on the child's import path. Started from a
folder that holds another `tuneui` (a source checkout of another version, a project folder of
that name), the child would run that code instead: counts, conversions and commands of another
version taken for this one's. `module_command` runs MODULE as `-m` does, with that folder left out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Mapping

# `-c` code: drop the working folder ('') from the path, then run the module as __main__ with the
# rest of the arguments, as `python -m` would (runpy sets argv[0] to the module's file).
_RUN_MODULE = (
    "import runpy, sys; sys.path[:] = [p for p in sys.path if p]; "
    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)"
)


def module_command(module: str, *args: str, python: str = sys.executable) -> list[str]:
    """`[python, "-m", module, *args]`, without the working folder on the child's import path."""
    return [python, "-c", _RUN_MODULE, module, *args]


# -- children that end with their parent ------------------------------------------------------------
#
# Every child tuneui starts for itself (a step command, the inference worker, token counters, the
# model preparation) must end with it, however it ends; the detached training worker alone is meant
# to outlive it, and is started without any of this. Two halves:
# - the parent ends the children it tracks when SIGTERM or SIGHUP comes (`end_children_on_signals`),
#   and when it exits (`end_children`);
# - each child watches its parent (`watch_parent`) and ends itself when the parent is gone, which
#   covers SIGKILL and crashes. It polls getppid() rather than asking for PR_SET_PDEATHSIG: that
#   signal follows the *thread* that started the child, and the app starts its inference worker from
#   short-lived thread workers, so the worker would die with the first chat reply's thread.

PARENT_ENV = "TUNEUI_PARENT_PID"
PARENT_CHECK_SECONDS = 0.5
# How long a child gets to end (its own children first) after SIGTERM before it is killed.
END_GRACE_SECONDS = 5.0
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_live: dict[int, subprocess.Popen] = {}


def tied_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this environment) plus the mark that makes a tuneui child watch this process."""
    env = dict(os.environ if base is None else base)
    env[PARENT_ENV] = str(os.getpid())
    return env


def track(process: subprocess.Popen) -> subprocess.Popen:
    """Remember a child to end when this process is told to end (or exits); returns it."""
    _live[process.pid] = process
    return process


def untrack(process: subprocess.Popen) -> None:
    _live.pop(process.pid, None)


def end_children(grace: float = END_GRACE_SECONDS) -> None:
    """SIGTERM every tracked child still running, then SIGKILL those still there after `grace`."""
    processes = list(_live.values())  # a copy: a thread may track or untrack meanwhile
    for process in processes:
        if process.poll() is None:
            try:
                process.terminate()
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        untrack(process)


def end_children_on_signals(then: Callable[[int], None] | None = None) -> Callable[[], None]:
    """On SIGTERM and SIGHUP: end the tracked children, then call `then(signum)` (by default, exit
    with 128 + signum through SystemExit, so `finally` blocks and `with` exits still run).

    Returns the function that puts the previous handlers back. Does nothing off the main thread,
    where Python cannot set handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def ending(signum: int, frame: object) -> None:
        end_children()
        if then is not None:
            then(signum)
            return
        print(f"tuneui: stopped by {signal.Signals(signum).name}", file=sys.stderr)
        raise SystemExit(128 + signum)

    previous = {signum: signal.signal(signum, ending) for signum in ENDING_SIGNALS}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    return restore


def watch_parent(every: float = PARENT_CHECK_SECONDS) -> None:
    """In a child started with `tied_environment`: end this process once its parent is gone.

    It sends itself SIGTERM, so its own handler ends its own children first; a process that is
    still there `END_GRACE_SECONDS` later (its main thread stuck in native code) ends its children
    from here and exits at once. The mark is taken out of the environment: this process's own
    children get their own, and the detached training worker none.
    """
    mark = os.environ.pop(PARENT_ENV, "")
    if not mark.isdigit():
        return
    parent = int(mark)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(END_GRACE_SECONDS)
        end_children(grace=1.0)
        os._exit(128 + signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
