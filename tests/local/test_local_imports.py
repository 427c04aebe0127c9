"""Import hygiene of the local backend: what the UI process loads stays free of torch and textual."""

from __future__ import annotations

import subprocess
import sys

import pytest

ML_STACK = {"torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate", "datasets"}


def _top_level_modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "module",
    ["backends.local.backend", "backends.local.launch", "backends.local.config", "backends.local.kernels", "backends.local.inference_process",
     "backends.local.inference", "backends.local.tiny", "backends.local.worker", "tuneui.commands.train"],
)  # fmt: skip
def test_ui_side_modules_import_neither_ml_nor_textual(module):
    loaded = _top_level_modules_after(f"import {module}")
    assert not loaded & ML_STACK, f"{module} imported {loaded & ML_STACK}"
    assert "textual" not in loaded


def test_the_backend_from_the_registry_stays_light(tmp_path):
    loaded = _top_level_modules_after(
        "from backends.registry import get_backend\n"
        "from tuneui.core.workspace import init_workspace\n"
        f"b = get_backend('local', init_workspace({str(tmp_path)!r}))\n"
        "b.check()"
    )
    assert not loaded & ML_STACK

