"""Fixtures of the Evaluate tests: a scripted backend, a small project, a finished run."""

from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path
from typing import Callable, Sequence

import pytest

from backends.base import Backend, Event, GenerationParams, ModelRef, TrainSpec

# (label question, label) pairs: a ticket classification task whose answers are single labels.
TICKETS = [
    ("I was charged twice for March.", "billing"),
    ("The app crashes when I open settings.", "bug"),
    ("How do I export my data to CSV?", "question"),
    ("My invoice shows the wrong VAT number.", "billing"),
    ("Clicking save does nothing on Firefox.", "bug"),
    ("Can I change my username?", "question"),
    ("Refund the duplicate payment please.", "billing"),
    ("The page goes blank after login.", "bug"),
    ("Where do I find the API docs?", "question"),
    ("Why was my card declined at renewal?", "billing"),
    ("Images fail to upload since the update.", "bug"),
    ("Is there a dark mode?", "question"),
]
SYSTEM = "Classify the support ticket as billing, bug or question. Reply with the label only."

Answerer = Callable[[ModelRef, Sequence[dict]], str]


class ScriptedBackend(Backend):
    """Answers from a test-supplied function and records every conversation it was asked."""

    name = "scripted"
    answer: Answerer = staticmethod(lambda model, conversation: "")
    calls: list[tuple[ModelRef, list]] = []

    def __init__(self, workspace) -> None:
        self.workspace = workspace

    def check(self, model=None):  # pragma: no cover - not used by evaluation
        raise NotImplementedError

    def estimate(self, spec, stats):  # pragma: no cover
        raise NotImplementedError

    def start(self, spec):  # pragma: no cover
        raise NotImplementedError

    def events(self, run_id, after=0):  # pragma: no cover
        raise NotImplementedError

    def status(self, run_id):  # pragma: no cover
        raise NotImplementedError

    def cancel(self, run_id):  # pragma: no cover
        raise NotImplementedError

    def result(self, run_id):  # pragma: no cover
        raise NotImplementedError

    def generate(self, model, conversations, params=GenerationParams()):
        type(self).calls.append((model, [list(c) for c in conversations]))
        return [type(self).answer(model, list(c)) for c in conversations]


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> type[ScriptedBackend]:
    """Register ScriptedBackend as the backend named "scripted" for the test's duration."""
    from backends import registry

    module = types.ModuleType("evaluate_scripted_backend")
    module.ScriptedBackend = ScriptedBackend
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(registry.BACKENDS, "scripted", f"{module.__name__}:ScriptedBackend")
    monkeypatch.setattr(ScriptedBackend, "calls", [])
    monkeypatch.setattr(ScriptedBackend, "answer", staticmethod(lambda model, conversation: ""))
    return ScriptedBackend


def chat_line(question: str, answer: str, system: str | None = SYSTEM) -> str:
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
    ]
    return json.dumps({"messages": messages})


def write_split(workspace, train: Sequence[tuple[str, str]], val: Sequence[tuple[str, str]]) -> None:
    workspace.data_dir.mkdir(parents=True, exist_ok=True)
    workspace.train_file.write_text("".join(chat_line(q, a) + "\n" for q, a in train), encoding="utf-8")
    workspace.val_file.write_text("".join(chat_line(q, a) + "\n" for q, a in val), encoding="utf-8")


@pytest.fixture
def ticket_project(workspace):
    """A project with 6 train and 6 val ticket examples and a task description for the judge."""
    settings = workspace.settings()
    settings.project.task = "Classify support tickets as billing, bug or question."
    settings.project.task_type = "classification"
    workspace.save_settings(settings)
    write_split(workspace, TICKETS[:6], TICKETS[6:])
    return workspace


def make_finished_run(workspace, backend: str = "scripted", base_model: str = "base-model") -> str:
    """A succeeded run with an adapter model_ref and a few loss events, as a trainer leaves it."""
    from backends.runs import RunFolder

    run_id = workspace.new_run_id()
    spec = TrainSpec(run_id=run_id, backend=backend, model=base_model, train_file=str(workspace.train_file))
    run = RunFolder.create(workspace.runs_dir, spec)
    ref = ModelRef(backend=backend, base_model=base_model, kind="adapter", path=str(run.adapter_dir))
    run.write_status(status="succeeded", model_ref=ref.to_dict())
    now = time.time()
    run.append_events(
        Event("metrics", {"step": step, "train_loss": 2.0 / step, **({"valid_loss": 2.2 / step} if step % 2 == 0 else {})}, now)
        for step in range(1, 9)
    )
    return run_id


def question_of(conversation: Sequence[dict]) -> str:
    return conversation[-1]["content"]


def label_of(question: str) -> str:
    return dict(TICKETS)[question]


@pytest.fixture
def project_root(ticket_project) -> Path:
    return ticket_project.root
