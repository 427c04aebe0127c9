"""Time from launching `tuneui` in a terminal (tmux) to its first screen, against a bare Textual app
launched the same way in the same run. Goal: tuneui at most 1.5x the bare app.

    .venv/bin/python bench/startup.py [--runs 7]

Both are started by tmux in a fresh 80x24 session; the clock stops when `tmux capture-pane` first
shows the app's first screen (for tuneui: the step sidebar and the guide's first question).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_APP = '''
from textual.app import App
from textual.widgets import Footer, Header, Static


class Bare(App):
    def compose(self):
        yield Header()
        yield Static("bare app ready")
        yield Footer()


Bare().run()
'''
# The same bare app after the imports `tuneui` itself does before the UI starts (its CLI, which
# opening the app builds without the command groups, and the project settings): the difference
# to tuneui is what the app's own modules and screen cost.
CLI_PRELUDE = "from tuneui.cli import build_parser\nbuild_parser(with_commands=False)\nimport tuneui.core.workspace\n"
POLL_S = 0.01
TIMEOUT_S = 60.0


def time_to_screen(command: list[str], markers: tuple[str, ...], cwd: Path) -> float:
    tmux = shutil.which("tmux")
    socket = f"tuneui-bench-{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, "TERM": "xterm-256color"}
    started = time.perf_counter()
    subprocess.run([tmux, "-L", socket, "new-session", "-d", "-x", "80", "-y", "24", "-c", str(cwd), *command], check=True, env=env)
    try:
        while time.perf_counter() - started < TIMEOUT_S:
            screen = subprocess.run([tmux, "-L", socket, "capture-pane", "-p"], capture_output=True, text=True).stdout
            if all(marker in screen for marker in markers):
                return time.perf_counter() - started
            time.sleep(POLL_S)
        raise SystemExit(f"no first screen after {TIMEOUT_S}s for {command}:\n{screen}")
    finally:
        subprocess.run([tmux, "-L", socket, "kill-server"], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="launches of each app (alternating)")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is not installed", file=sys.stderr)
        return 2
    tuneui = Path(sys.executable).parent / "tuneui"
    from tuneui.core.settings import Settings
    from tuneui.core.workspace import init_workspace

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        settings = Settings()
        settings.project.name = "startup bench"
        workspace = init_workspace(root / "project", settings)
        bare = root / "bare_app.py"
        bare.write_text(BARE_APP, encoding="utf-8")
        bare_cli = root / "bare_app_after_cli.py"
        bare_cli.write_text(CLI_PRELUDE + BARE_APP, encoding="utf-8")
        bare_times, cli_times, tuneui_times = [], [], []
        for _ in range(args.runs):
            bare_times.append(time_to_screen([sys.executable, str(bare)], ("bare app ready",), root))
            cli_times.append(time_to_screen([sys.executable, str(bare_cli)], ("bare app ready",), root))
            tuneui_times.append(time_to_screen([str(tuneui), "--project", str(workspace.root)], ("Evaluate", "Next:"), root))
    bare_median, tuneui_median = statistics.median(bare_times), statistics.median(tuneui_times)
    cli_median = statistics.median(cli_times)
    print(f"bare Textual app          : median {bare_median:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in bare_times)})")
    print(f"bare app after tuneui CLI : median {cli_median:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in cli_times)})")
    print(f"tuneui                    : median {tuneui_median:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in tuneui_times)})")
    print(f"share of the CLI and settings imports: {cli_median - bare_median:+.3f} s; "
          f"of the app's own modules and screen: {tuneui_median - cli_median:+.3f} s")
    ratio = tuneui_median / bare_median
    print(f"ratio tuneui / bare: {ratio:.2f}x  (goal: <= 1.5x) -> {'met' if ratio <= 1.5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
