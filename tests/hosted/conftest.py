"""Fixtures for the hosted backends: fake provider servers on 127.0.0.1 and a project with data."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tuneui.core.backend import TERMINAL_STATES, TrainSpec
from tests.hosted.fake_azure import API_VERSION, FakeAzure
from tests.hosted.fake_http import FakeServer
from tests.hosted.fake_openai import FakeOpenAI
from tests.hosted.fake_together import FakeTogether

FAST_POLL = "0.01"
TRAIN_ROWS = [
    {"messages": [{"role": "system", "content": "Classify."}, {"role": "user", "content": f"ticket {i}"}, {"role": "assistant", "content": "billing" if i % 2 else "bug"}]}
    for i in range(12)
]


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries keep their logic but not their half-second pauses."""
    monkeypatch.setattr("backends.hosted.backoff.RETRY_BASE_S", 0.01)


@pytest.fixture(autouse=True)
def _key_never_on_disk(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test here, faults or not, the fake servers' key is in no file of the project."""
    project = request.getfixturevalue("project") if "project" in request.fixturenames else None
    yield
    if project is not None:
        root = project.root
        leaked = [str(p) for p in root.rglob("*") if p.is_file() and FakeServer.api_key.encode() in p.read_bytes()]
        assert not leaked, f"the API key was written to {leaked}"


@pytest.fixture
def fake_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """A running fake OpenAI; the SDK is pointed at it through OPENAI_BASE_URL and OPENAI_API_KEY."""
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        monkeypatch.setenv("TUNEUI_POLL_SECONDS", FAST_POLL)
        yield server


@pytest.fixture
def fake_together(monkeypatch: pytest.MonkeyPatch, project: Any) -> Iterator[FakeTogether]:
    """A running fake Together AI; the project's `[together] base_url` points at it."""
    with FakeTogether() as server:
        monkeypatch.setenv("TOGETHER_API_KEY", server.api_key)
        monkeypatch.setenv("TUNEUI_POLL_SECONDS", FAST_POLL)
        settings = project.settings()
        settings.together.base_url = server.base_url
        project.save_settings(settings)
        yield server


@pytest.fixture
def fake_azure(monkeypatch: pytest.MonkeyPatch, project: Any) -> Iterator[FakeAzure]:
    """A running fake Azure OpenAI; the project's `[openai] azure_endpoint` points at it."""
    with FakeAzure() as server:
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", server.api_key)
        monkeypatch.setenv("TUNEUI_POLL_SECONDS", FAST_POLL)
        settings = project.settings()
        settings.openai.azure_endpoint = server.azure_endpoint
        settings.openai.api_version = API_VERSION
        project.save_settings(settings)
        yield server


@pytest.fixture
def project(workspace: Any) -> Any:
    """A workspace with data/train.jsonl and data/val.jsonl in OpenAI chat format."""
    workspace.data_dir.mkdir(parents=True, exist_ok=True)
    workspace.train_file.write_text("".join(json.dumps(r) + "\n" for r in TRAIN_ROWS[:9]))
    workspace.val_file.write_text("".join(json.dumps(r) + "\n" for r in TRAIN_ROWS[9:]))
    return workspace


def make_spec(project: Any, backend: str, model: str = "gpt-4o-mini-2024-07-18", **changes: Any) -> TrainSpec:
    values = {
        "run_id": project.new_run_id(),
        "backend": backend,
        "model": model,
        "train_file": str(project.train_file),
        "val_file": str(project.val_file),
        "epochs": 2,
        "suffix": "tickets",
        **changes,
    }
    return TrainSpec(**values)


def follow(backend: Any, run_id: str, timeout: float = 15.0) -> Any:
    """What `train --wait` does: poll events() and status() every poll_seconds until a final state."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen += len(backend.events(run_id, seen))
        status = backend.status(run_id)
        if status.status in TERMINAL_STATES:
            return status
        time.sleep(backend.poll_seconds)
    raise AssertionError(f"run {run_id} did not finish within {timeout} s: {backend.status(run_id)}")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


_SPECS: dict[Path, dict[str, Any]] = {}


def published_spec(shared_dir: Path, relative: str) -> dict[str, Any]:
    """A provider's published spec from ../shared, parsed once per session (the files are
    megabytes); the test skips, naming the file, where ../shared is not beside the project."""
    path = shared_dir / relative
    if not path.is_file():
        pytest.skip(f"../shared/{relative} is not there")
    if path not in _SPECS:
        import yaml

        with open(path, encoding="utf-8") as handle:
            _SPECS[path] = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return _SPECS[path]
