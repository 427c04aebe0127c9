"""In a real terminal: an example holding escape sequences is shown as symbols and changes nothing
(the OSC 0 title sequence used to retitle the terminal, CSI 2J to clear the editor)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from .conftest import chat_line, examples, write_imported
from .terminal import TMUX, Terminal

TUNEUI = Path(sys.executable).parent / "tuneui"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path(TMUX).exists() or shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(not TUNEUI.exists(), reason="tuneui is not installed beside this interpreter"),
    pytest.mark.timeout(180),
]


def test_an_example_cannot_retitle_or_clear_the_terminal(project, tmp_path: Path) -> None:
    # Its file's name is not UTF-8 either: Python holds the byte as a lone surrogate, which reaches
    # the terminal driver only as the escape the view writes for it.
    name = os.fsdecode(b"caf\xe9.jsonl")
    write_imported(project, [chat_line("Hi \x1b]0;HIJACKED\x07 there \x1b[2J", "Hello [red]x[/red]")] + examples(3), name=name)
    terminal = Terminal(100, 30)
    terminal.start(tmp_path)
    try:
        before = terminal.title()
        terminal.line(f"{TUNEUI} --project {project.root}")
        terminal.wait_for("Baseline", "Evaluate", timeout=90)
        terminal.type("F2")
        terminal.wait_for("caf\\udce9.jsonl: 4 examples", "Hi ␛]0;HIJACKED␇ there", "Hello [red]x[/red]", timeout=60)
        terminal.type("Enter")
        screen = terminal.wait_for("Example at line 1", "␛[2J", timeout=30)
        assert "Hello [red]x[/red]" in screen, "the editor still shows every message"
        assert terminal.title() == before != "HIJACKED"
        terminal.type("Escape")
        terminal.type("C-q")
    finally:
        terminal.close()
