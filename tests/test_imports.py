"""Import hygiene, on every module found on disk: no import cycle; nothing but the UI loads Textual;
nothing at all loads the ML stack when imported (the workers import it inside their functions).

The ML stack is the one list in `.importlinter`, whose contracts `lint-imports` checks in CI;
these tests check what those contracts cannot see: cycles, and what really loads at run time.
Modules are imported in a fresh interpreter, because this test process has imported everything.
"""

from __future__ import annotations

import pytest

import ast
import configparser
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tuneui", "backends")
UI = ("tuneui.app", "tuneui.screens", "tuneui.widgets", "tuneui.messages")
# Imported only by a child process that has already loaded the ML stack: the trainer callbacks (by
# the training worker), the repetition guard (by the inference process and the export's checks) and
# the export's forced checks (by the export worker).
WORKER_ONLY = {
    "backends.local.progress": {"backends.local.worker"},
    "backends.local.inference_guard": {"backends.local.inference", "backends.local.forced"},
    "backends.local.forced": {"backends.local.export_worker"},
}


def _ml_stack() -> set[str]:
    contracts = configparser.ConfigParser()
    contracts.read(ROOT / ".importlinter")
    return set(contracts["importlinter:contract:ui-without-ml"]["forbidden_modules"].split())


ML_STACK = _ml_stack()
# Hugging Face `datasets` (and pyarrow) is loaded only to read a hub or parquet dataset, inside the
# reader: the UI may reach it, so it is no import-linter rule, but nothing may load it on import.
HEAVY_ON_IMPORT = ML_STACK | {"datasets"}


def _modules() -> dict[str, Path]:
    """Every module of the project, by name, with its file; packages by their `__init__.py`."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        folder = ROOT / package
        found[package] = folder / "__init__.py"
        for info in pkgutil.walk_packages([str(folder)], prefix=f"{package}."):
            relative = Path(*info.name.split(".")[1:])
            path = folder / relative / "__init__.py" if info.ispkg else folder / relative.with_suffix(".py")
            found[info.name] = path
    return found


def _is_ui(module: str) -> bool:
    return any(module == ui or module.startswith(ui + ".") for ui in UI)


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
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    return {name: set(added) for name, added in json.loads(result.stdout.splitlines()[-1]).items()}


@pytest.mark.integration
def test_no_module_loads_the_ml_stack_and_only_the_ui_loads_textual() -> None:
    modules = [name for name in _modules() if not name.endswith("__main__") and name not in WORKER_ONLY]
    below_ui = [name for name in modules if not _is_ui(name)]
    ui = [name for name in modules if _is_ui(name)]
    assert {"tuneui.core.workspace", "backends.local.worker", "tuneui.guide.machine"} <= set(below_ui)
    assert {"tuneui.app", "tuneui.screens.chat"} <= set(ui)
    # Everything below the UI first, so a Textual import there cannot hide behind the UI's;
    # the worker-only modules last, where loading the ML stack is their right.
    loaded = _newly_loaded(below_ui + ui + sorted(WORKER_ONLY))
    heavy = {name: added & HEAVY_ON_IMPORT for name, added in loaded.items() if added & HEAVY_ON_IMPORT}
    assert {name: found for name, found in heavy.items() if name not in WORKER_ONLY} == {}
    assert {name: added & {"textual"} for name, added in loaded.items() if name not in ui and "textual" in added} == {}
    assert "textual" in set().union(*(loaded[name] for name in ui))  # the check is real: the UI did load it


def test_worker_only_modules_are_imported_by_the_worker_only() -> None:
    modules = _modules()
    for worker_only, importers in WORKER_ONLY.items():
        found = {name for name, path in modules.items() if worker_only in _imports(name, path, set(modules))}
        assert found == importers, worker_only


@pytest.mark.integration
def test_the_local_backend_from_the_registry_stays_light(tmp_path: Path) -> None:
    """What the UI process runs to check a local project: no ML stack, no Textual."""
    code = (
        "import sys\nfrom tuneui.core.providers import get_backend\nfrom tuneui.core.workspace import init_workspace\n"
        f"get_backend('local', init_workspace({str(tmp_path)!r})).check()\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120, check=True)
    loaded = set(out.stdout.split())
    assert not loaded & HEAVY_ON_IMPORT and "textual" not in loaded


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `module` imports anywhere in its file (functions included), except
    under `if TYPE_CHECKING:`, which never runs."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                anchor = parts if is_package else parts[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return {name for name in found if name in known and name != module}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return cycles


def test_the_import_graph_has_no_cycle() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, set(modules)) for name, path in modules.items()}
    assert "tuneui.steps.report.inputs" in graph["tuneui.steps.report.html"]  # the walk sees imports
    assert "tuneui.core.providers" in graph["tuneui.steps.baseline"]  # ...those inside functions too
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
