"""API keys never reach a local ML child process, whose output lands in worker.log."""

from __future__ import annotations

import os
import sys

from backends.base import TrainSpec
from backends.local.launch import read_pid, spawn_worker
from backends.runs import RunFolder

KEY = "sk-test-0123456789abcdefKEY"
KEY_NAMES = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "TOGETHER_API_KEY")


def test_the_local_worker_gets_no_api_key(workspace, monkeypatch):
    for name in KEY_NAMES:
        monkeypatch.setenv(name, KEY)
    folder = RunFolder.create(workspace.runs_dir, TrainSpec(run_id="r1", backend="local", model="m", train_file="t"))
    show_env = f"import os; print('env:', [os.environ.get(n) for n in {KEY_NAMES!r}], os.environ['PYTHONPATH'])"
    pid = spawn_worker(folder, [sys.executable, "-c", show_env])
    assert read_pid(folder) == pid
    os.waitpid(pid, 0)
    log = folder.log_path.read_text()
    assert "env: [None, None, None]" in log
    assert KEY not in log
