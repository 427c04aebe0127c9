"""Fixtures of the local backend's tests: one tiny model per session, small chat datasets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]

TICKETS = [
    ("The invoice was charged twice this month.", "billing"),
    ("I was billed for a plan I cancelled.", "billing"),
    ("My card was charged but the order failed.", "billing"),
    ("Refund the duplicate payment please.", "billing"),
    ("The app crashes when I open settings.", "bug"),
    ("Clicking save shows an error page.", "bug"),
    ("The export button does nothing.", "bug"),
    ("Login loops back to the start page.", "bug"),
    ("How do I export my data to CSV?", "question"),
    ("Can I add a second user to my account?", "question"),
    ("Where do I change my password?", "question"),
    ("Do you have a mobile app?", "question"),
]
SYSTEM = "Classify the ticket as billing, bug or question."


def chat(user: str, answer: str, system: str = SYSTEM) -> dict[str, Any]:
    return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user}, {"role": "assistant", "content": answer}]}


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama with a tokenizer trained on the ticket texts; built once per session."""
    from backends.local.tiny import build_tiny_model

    texts = [SYSTEM] + [t for pair in TICKETS for t in pair]
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", texts)


@pytest.fixture
def ticket_project(workspace, tiny_model):
    """A project whose data/train.jsonl and data/val.jsonl hold the ticket examples."""
    write_jsonl(workspace.train_file, [chat(u, a) for u, a in TICKETS * 2])
    write_jsonl(workspace.val_file, [chat(u, a) for u, a in TICKETS[::3]])
    return workspace


def run_cli(project: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`tuneui ARGS` in a fresh interpreter, as a user's shell would run it."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tuneui", "--project", str(project), *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=project,
    )  # fmt: skip


def wait_for(predicate, timeout: float = 90, every: float = 0.3):
    """Poll until `predicate()` returns something truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
