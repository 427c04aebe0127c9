"""Import hygiene: core and backends never import textual; the UI never imports the ML stack.

Every module is imported in a fresh interpreter, because this test process has imported
everything. The module lists are discovered, so a new module is checked without editing this file.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
ML_STACK = {"torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate"}
# The only modules allowed to import the ML stack: they run in the worker processes.
WORKER_SIDE = {"backends.local.progress", "backends.local.recipe", "backends.local.worker", "backends.local.tiny",
               "backends.local.inference", "backends.local.inference_process", "backends.local.inference_guard",
               "backends.local.model_convert"}


def _modules(package: str) -> list[str]:
    path = ROOT.joinpath(*package.split("."))
    return sorted(
        info.name for info in pkgutil.walk_packages([str(path)], prefix=f"{package}.") if not info.name.endswith("__main__")
    )


def _newly_loaded(modules: list[str]) -> dict[str, set[str]]:
    """Import `modules` in order in one fresh interpreter; map each to the top-level packages it added.

    A package already loaded by an earlier module is charged to that module, which is the one to fix.
    """
    code = (
        "import sys, json, importlib\nseen = {m.split('.')[0] for m in sys.modules}\nout = {}\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "    now = {m.split('.')[0] for m in sys.modules}\n"
        "    out[name] = sorted(now - seen)\n"
        "    seen = now\n"
        "print(json.dumps(out))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    return {name: set(added) for name, added in json.loads(result.stdout.splitlines()[-1]).items()}


def _offenders(modules: list[str], forbidden: set[str]) -> dict[str, set[str]]:
    return {name: added & forbidden for name, added in _newly_loaded(modules).items() if added & forbidden}


def test_core_never_imports_textual_or_the_ml_stack() -> None:
    modules = _modules("tuneui.core")
    assert len(modules) > 10
    assert _offenders(modules, ML_STACK | {"textual"}) == {}


def test_backends_never_import_textual_and_only_workers_import_ml() -> None:
    modules = _modules("backends")
    assert "backends.local.backend" in modules
    front = [m for m in modules if m not in WORKER_SIDE]
    assert _offenders(front, ML_STACK | {"textual"}) == {}
    assert _offenders(sorted(WORKER_SIDE & set(modules)), {"textual"}) == {}


def test_the_ui_process_never_imports_the_ml_stack() -> None:
    ui_modules = ["tuneui.app", "tuneui.cli", "tuneui.guide"] + _modules("tuneui.screens") + _modules("tuneui.widgets")
    everything = set().union(*_newly_loaded(ui_modules).values())
    assert "textual" in everything  # the check is real: the UI did load
    assert not everything & ML_STACK, everything & ML_STACK
