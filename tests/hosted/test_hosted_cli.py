"""The hosted backends through the real `tuneui` command, in separate processes, like a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.hosted.conftest import read_jsonl

pytest.importorskip("tuneui.commands.train", reason="the train/status/cancel commands are not built yet")


def _env(server, poll: str = "0.05", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TOGETHER_API_KEY")}
    env.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=server.api_key, TUNEUI_POLL_SECONDS=poll, PYTHONPATH=str(PROJECT_ROOT))
    env.update(extra)
    return env


def _tuneui(project, *args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tuneui", "--project", str(project.root), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT)


def test_train_wait_json_then_status_json(fake_openai, project) -> None:
    env = _env(fake_openai)
    done = _tuneui(project, "train", "--backend", "openai", "--model", "gpt-4o-mini", "--wait", "--json", env=env)
    assert done.returncode == 0, done.stderr
    final = json.loads(done.stdout)
    job = next(iter(fake_openai.jobs.values()))
    assert final["status"] == "succeeded" and final["job_id"] == job["id"]
    assert final["model_ref"] == job["fine_tuned_model"] and final["metrics"]["steps"] == fake_openai.steps

    status = _tuneui(project, "status", final["run_id"], "--json", env=env)
    assert status.returncode == 0 and json.loads(status.stdout) == final
    assert len(fake_openai.jobs) == 1


def test_cancel_from_the_command_line(fake_openai, project) -> None:
    env = _env(fake_openai)
    started = _tuneui(project, "train", "--backend", "openai", "--model", "gpt-4o-mini", "--json", env=env)
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["run_id"]
    cancelled = _tuneui(project, "cancel", run_id, env=env)
    assert cancelled.returncode == 0, cancelled.stderr
    assert next(iter(fake_openai.jobs.values()))["status"] == "cancelled"
    assert json.loads(_tuneui(project, "status", run_id, "--json", env=env).stdout)["status"] == "cancelled"


def test_killing_the_follower_loses_nothing_and_status_picks_the_job_up(fake_openai, project) -> None:
    fake_openai.steps = 12
    env = _env(fake_openai, poll="0.2")
    command = [sys.executable, "-m", "tuneui", "--project", str(project.root), "train", "--backend", "openai", "--model", "gpt-4o-mini", "--wait"]
    follower = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        events_file = _wait_for_metric_lines(project, 2, timeout=30)
    finally:
        follower.send_signal(signal.SIGKILL)
        follower.wait(timeout=10)
    run_id = events_file.parent.name
    job_id = next(iter(fake_openai.jobs))
    assert fake_openai.jobs[job_id]["status"] == "running"
    fake_openai.advance(job_id)  # the provider trains on while nobody follows

    status = _tuneui(project, "status", run_id, "--json", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"] == "succeeded"
    events = read_jsonl(events_file)
    assert [e["data"]["step"] for e in events if e["type"] == "metrics"] == list(range(1, 13))
    assert [e["id"] for e in events if e["id"].startswith("ftevent")] == [e["id"] for e in fake_openai.events[job_id]]
    assert len(fake_openai.jobs) == 1


def test_bad_input_is_a_message_and_exit_2_never_a_traceback(fake_openai, project) -> None:
    env = _env(fake_openai)
    env.pop("OPENAI_API_KEY")
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    done = _tuneui(project, "train", "--backend", "openai", "--model", "gpt-4o-mini", env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "No OpenAI API key" in done.stderr and "OPENAI_API_KEY" in done.stderr

    env = _env(fake_openai)
    started = json.loads(_tuneui(project, "train", "--backend", "openai", "--model", "gpt-4o-mini", "--json", env=env).stdout)
    fake_openai.fail("GET", r"/fine_tuning/jobs/[^/]+$", strip=("status",))
    broken = _tuneui(project, "status", started["run_id"], env=env)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert "without its 'status' field" in broken.stderr


def _wait_for_metric_lines(project, count: int, timeout: float) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for events_file in project.runs_dir.glob("*/events.jsonl"):
            if sum(1 for e in read_jsonl(events_file) if e["type"] == "metrics") >= count:
                return events_file
        time.sleep(0.05)
    raise AssertionError("the follower never recorded metrics")
