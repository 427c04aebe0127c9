"""The UI process never imports the ML stack; the guide and its helpers never import Textual."""

from __future__ import annotations

import subprocess
import sys

import pytest

ML_STACK = {"torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate"}
VIEWS = ("dataset", "cost", "train", "evaluate", "chat", "example_modal")


def _loaded(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return {name.split(".")[0] for name in out.split()}


def test_the_app_and_every_view_import_no_ml_stack() -> None:
    views = "; ".join(f"import tuneui.screens.{view}" for view in VIEWS)
    loaded = _loaded(f"import tuneui.app, tuneui.demo, tuneui.commands.demo; {views}")
    assert "textual" in loaded
    assert not loaded & ML_STACK, f"the UI pulled in {loaded & ML_STACK}"


@pytest.mark.parametrize(
    "module",
    ["tuneui.guide.machine", "tuneui.guide.state", "tuneui.guide.runner", "tuneui.viewmodels.cards", "tuneui.viewmodels.progress",
     "tuneui.viewmodels.dataset", "tuneui.viewmodels.evaluation", "tuneui.demo"],
)
def test_the_guide_imports_no_textual(module: str) -> None:
    loaded = _loaded(f"import {module}")
    assert "textual" not in loaded
    assert not loaded & ML_STACK
