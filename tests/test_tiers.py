"""The fast tier's guard: an unmarked test that starts a process, opens a network socket, imports
the ML stack or sleeps fails with a message that names the mark to add."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import FastTierViolation


def test_a_child_process_fails_a_fast_tier_test() -> None:
    with pytest.raises(FastTierViolation, match="pytest.mark.integration"):
        subprocess.run(["true"], check=False)


def test_a_network_socket_fails_a_fast_tier_test_but_a_local_pipe_does_not() -> None:
    with pytest.raises(FastTierViolation, match="network socket"):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    left, right = socket.socketpair()  # asyncio's self-pipe: Textual's Pilot needs it
    left.close(), right.close()


def test_sleeping_past_the_budget_fails_a_fast_tier_test() -> None:
    time.sleep(0.01)  # a lock's retry is fine
    with pytest.raises(FastTierViolation, match="sleeping"):
        time.sleep(1)


def test_importing_torch_fails_a_fast_tier_test() -> None:
    if "torch" in sys.modules:  # checked as the test runs: an integration test in this worker may have loaded it
        pytest.skip("torch was imported earlier in this process")
    with pytest.raises(FastTierViolation, match="import torch"):
        import torch  # noqa: F401


@pytest.mark.integration
def test_a_marked_test_may_start_a_process() -> None:
    assert subprocess.run([sys.executable, "-c", "print(1)"], capture_output=True, text=True).stdout == "1\n"


def test_collecting_the_tests_imports_no_ml_stack() -> None:
    """A test module that imports torch (or a module that does) at its top would load it while the
    fast tier is collected: seconds per worker, and the guard could no longer see a test import it."""
    import ast
    from pathlib import Path

    heavy = ("torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate", "backends.local.progress",
             "backends.local.inference_guard", "backends.local.recipe", "backends.local.worker")
    found = []
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level only
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and getattr(node.value.func, "attr", "") == "importorskip":
                names = [arg.value for arg in node.value.args if isinstance(arg, ast.Constant)]
            found += [f"{path.name}:{node.lineno} {name}" for name in names if name.split(".")[0] in heavy or name in heavy]
    assert found == []


async def test_an_async_test_drives_the_app_and_is_in_the_app_tier(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("app") is not None
    assert request.node.get_closest_marker("integration") is None


def test_a_plain_test_is_in_the_fast_tier(request: pytest.FixtureRequest) -> None:
    assert not any(request.node.get_closest_marker(mark) for mark in ("app", "integration", "e2e"))


class _Item:
    def __init__(self, name: str, e2e: bool = False) -> None:
        self.name, self.e2e = name, e2e

    def get_closest_marker(self, name: str):
        return name == "e2e" and self.e2e or None


def test_on_two_workers_each_half_starts_with_end_to_end_tests_and_the_demos_reader_comes_last() -> None:
    from tests.conftest import _DEMO_READER, _long_tests_first_in_each_half

    items = [_Item(f"t{n}", e2e=n in (3, 7, 9)) for n in range(12)]
    items.insert(5, _Item(_DEMO_READER, e2e=True))
    ordered = _long_tests_first_in_each_half(items)
    assert sorted(i.name for i in ordered) == sorted(i.name for i in items)  # nothing lost or doubled
    half = len(ordered) // 2  # what worksteal hands the first worker
    assert [i.name for i in ordered[:2]] == ["t3", "t9"] and ordered[half].name == "t7"
    assert ordered[-1].name == _DEMO_READER
