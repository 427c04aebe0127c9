"""The Evaluate modules stay light: no textual, no ML stack, in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = {"textual", "torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate"}


@pytest.mark.parametrize(
    "module",
    ["tuneui.core.evaluate", "tuneui.core.report", "tuneui.core.report_html", "tuneui.commands.evaluate"],
)
def test_evaluate_modules_import_nothing_heavy(module: str) -> None:
    code = f"import sys, {module}\nprint(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert not {name.split(".")[0] for name in loaded.split()} & HEAVY
