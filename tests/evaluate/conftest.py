"""Fixtures of the Evaluate tests (helpers live in evalkit.py)."""

from __future__ import annotations

import sys
import types

import pytest

from tests.evaluate.evalkit import TICKETS, ScriptedBackend, write_split


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> type[ScriptedBackend]:
    """Register ScriptedBackend as the backend named "scripted" for the test's duration."""
    from tuneui.core import providers as registry

    module = types.ModuleType("evaluate_scripted_backend")
    module.ScriptedBackend = ScriptedBackend
    module.PROVIDER = registry.Provider(name="scripted", title="a script", backend=f"{module.__name__}:ScriptedBackend")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(registry.table(), "scripted", f"{module.__name__}:PROVIDER")
    monkeypatch.setattr(ScriptedBackend, "calls", [])
    monkeypatch.setattr(ScriptedBackend, "answer", staticmethod(lambda model, conversation: ""))
    return ScriptedBackend


@pytest.fixture
def ticket_project(workspace):
    """A project with 6 train and 6 val ticket examples and a task description for the judge."""
    settings = workspace.settings()
    settings.project.task = "Classify support tickets as billing, bug or question."
    settings.project.task_type = "classification"
    workspace.save_settings(settings)
    write_split(workspace, TICKETS[:6], TICKETS[6:])
    return workspace
