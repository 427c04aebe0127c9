"""API keys never reach a local ML child process (its output lands in worker.log) nor the CLI's stderr."""

from __future__ import annotations

import pytest

import os
import sys

import tuneui.commands.runs as run_commands
from tuneui.core.backend import TrainSpec
from backends.local.launch import read_pid, spawn_worker
from backends.runs import RunFolder
from tuneui.cli import main
from tuneui.core.secrets import key_names
from tuneui.errors import TuneError

KEY = "sk-test-0123456789abcdefKEY"
# Every provider's key, as each declares it (the registry): a new provider's key is kept out too.
KEY_NAMES = key_names()


@pytest.mark.integration
def test_the_local_worker_gets_no_api_key(workspace, monkeypatch):
    for name in KEY_NAMES:
        monkeypatch.setenv(name, KEY)
    folder = RunFolder.create(workspace.runs_dir, TrainSpec(run_id="r1", backend="local", model="m", train_file="t"))
    show_env = f"import os; print('env:', [os.environ.get(n) for n in {KEY_NAMES!r}], os.environ['PYTHONPATH'])"
    worker_lock = folder.claim_worker()
    pid = spawn_worker(folder, [sys.executable, "-c", show_env], worker_lock)
    os.close(worker_lock)
    assert read_pid(folder) == pid
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        # spawn_worker lets its Popen go; subprocess then reaps the finished child itself when any
        # other Popen starts (in another test's thread), so it may already be waited for.
        pass
    log = folder.log_path.read_text()
    assert f"env: {[None] * len(KEY_NAMES)}" in log and "FIREWORKS_API_KEY" in KEY_NAMES
    assert KEY not in log


def test_an_unexpected_failure_is_one_redacted_line_not_a_traceback(workspace, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    def broken(args):
        try:
            raise ValueError(f"header Authorization: Bearer {KEY}")
        except ValueError as inner:
            raise RuntimeError(f"request failed with key {KEY}") from inner

    monkeypatch.setattr(run_commands, "_cmd_runs", broken)
    assert main(["--project", str(workspace.root), "runs"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and KEY not in err
    assert "error: tuneui failed unexpectedly: RuntimeError: request failed with key [redacted]" in err
    assert "TUNEUI_DEBUG=1" in err


def test_error_titles_are_redacted_when_printed(workspace, monkeypatch, capsys):
    monkeypatch.setenv("TOGETHER_API_KEY", KEY)

    def refuses(args):
        raise TuneError(f"provider echoed {KEY}", f"hint with {KEY}")

    monkeypatch.setattr(run_commands, "_cmd_runs", refuses)
    assert main(["--project", str(workspace.root), "runs"]) == 2
    err = capsys.readouterr().err
    assert KEY not in err and "provider echoed [redacted]" in err


def test_together_event_ids_hold_no_provider_text(monkeypatch):
    from backends.hosted.together_wire import normalize_events

    monkeypatch.setenv("TOGETHER_API_KEY", KEY)
    raw = {"created_at": "2026-01-01T00:00:00Z", "type": "job_error", "message": f"bad header Bearer {KEY}"}
    first, again = normalize_events([raw]), normalize_events([dict(raw)])
    assert KEY not in repr(first) and "Bearer" not in first[0].id
    assert first[0].id == again[0].id  # still a stable key for deduplication
