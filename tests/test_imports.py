"""Import hygiene: core and backends never import textual; the UI never imports the ML stack.

Each check runs in a fresh interpreter, because this test process has imported everything.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

ML_STACK = ("torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate")


def _imported_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return {name.split(".")[0] for name in out.split()}


@pytest.mark.parametrize(
    "module",
    [
        "tuneui.core.workspace",
        "tuneui.core.dataset",
        "tuneui.core.files",
        "backends.base",
        "backends.runs",
        "backends.registry",
    ],
)
def test_core_and_backends_never_import_textual_or_ml(module: str) -> None:
    loaded = _imported_after(f"import {module}")
    assert "textual" not in loaded
    assert not loaded & set(ML_STACK), f"{module} pulled in {loaded & set(ML_STACK)}"


def test_cli_parser_imports_no_ml_stack() -> None:
    loaded = _imported_after("from tuneui.cli import build_parser; build_parser()")
    assert not loaded & set(ML_STACK)
    assert "textual" not in loaded
