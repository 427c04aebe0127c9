"""A real terminal for end-to-end tests: a private tmux server, keys in, screen text out."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

TMUX = shutil.which("tmux") or "/usr/bin/tmux"


class Terminal:
    def __init__(self, width: int = 80, height: int = 24) -> None:
        self.socket = f"tuneui-test-{os.getpid()}-{time.monotonic_ns()}"
        self.width, self.height = width, height

    def start(self, cwd: Path) -> None:
        env = {**os.environ, "TERM": "xterm-256color"}
        self._tmux("new-session", "-d", "-s", "main", "-x", str(self.width), "-y", str(self.height), "-c", str(cwd),
                   "bash", "--norc", "--noprofile", env=env)

    def type(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "main", *keys)

    def line(self, text: str) -> None:
        self._tmux("send-keys", "-t", "main", "-l", text)
        self._tmux("send-keys", "-t", "main", "Enter")

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "main").stdout

    def title(self) -> str:
        """The pane's title: what an OSC 0 sequence written to the terminal would change."""
        return self._tmux("display-message", "-p", "-t", "main", "#{pane_title}").stdout.strip()

    def wait_for(self, *texts: str, timeout: float = 60.0) -> str:
        """The screen once it shows every one of `texts`; fails with the last screen seen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"waited {timeout:.0f}s for {texts!r}; the screen shows:\n{screen}")

    def close(self) -> None:
        subprocess.run([TMUX, "-L", self.socket, "kill-server"], capture_output=True)

    def _tmux(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, check=True, env=env)
