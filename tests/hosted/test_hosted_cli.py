"""The hosted backends through the real `tuneui` command: `main()` in this process where a fresh
process adds nothing but two seconds of imports, separate processes where the point is a new one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import PROJECT_ROOT
from backends.openai_ft import OpenAIBackend
from tests.hosted.conftest import make_spec, read_jsonl


def _env(server, poll: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TOGETHER_API_KEY")}
    env.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=server.api_key, TUNEUI_POLL_SECONDS=poll, PYTHONPATH=str(PROJECT_ROOT))
    return env


def _main(project, capsys, *args: str) -> tuple[int, str, str]:
    """`tuneui --project P ARGS...` in this process: (exit code, stdout, stderr)."""
    from tuneui.cli import main

    capsys.readouterr()
    code = main(["--project", str(project.root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def _tuneui(project, *args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "tuneui", "--project", str(project.root), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT)


def test_train_wait_json_then_status_json(fake_openai, project, capsys) -> None:
    code, out, err = _main(project, capsys, "train", "--backend", "openai", "--model", "gpt-4o-mini", "--wait", "--json")
    assert code == 0, err
    final = json.loads(out)
    job = next(iter(fake_openai.jobs.values()))
    assert final["status"] == "succeeded" and final["job_id"] == job["id"]
    assert final["model_ref"] == job["fine_tuned_model"] and final["metrics"]["steps"] == fake_openai.steps

    code, out, err = _main(project, capsys, "status", final["run_id"], "--json")
    assert code == 0 and json.loads(out) == final
    assert len(fake_openai.jobs) == 1


def test_cancel_from_the_command_line(fake_openai, project, capsys) -> None:
    run_id = OpenAIBackend(project).start(make_spec(project, "openai"))
    code, out, err = _main(project, capsys, "cancel", run_id)
    assert code == 0, err
    assert next(iter(fake_openai.jobs.values()))["status"] == "cancelled"
    assert json.loads((project.run_dir(run_id) / "status.json").read_text())["status"] == "cancelled"


def test_killing_the_follower_loses_nothing_and_status_picks_the_job_up(fake_openai, project) -> None:
    fake_openai.steps = 12
    env = _env(fake_openai, poll="0.1")
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


def test_bad_input_is_a_message_and_exit_2_never_a_traceback(fake_openai, project, capsys, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setattr("tuneui.core.secrets._from_keyring", lambda name: None)
    code, out, err = _main(project, capsys, "train", "--backend", "openai", "--model", "gpt-4o-mini")
    assert code == 2 and "No OpenAI API key" in err and "OPENAI_API_KEY" in err
    assert not any(project.runs_dir.iterdir()), "a run folder was left for a job that never started"

    monkeypatch.setenv("OPENAI_API_KEY", fake_openai.api_key)
    run_id = OpenAIBackend(project).start(make_spec(project, "openai"))
    fake_openai.fail("GET", r"/fine_tuning/jobs/[^/]+$", strip=("status",))
    code, out, err = _main(project, capsys, "status", run_id)
    assert code == 2 and "without its 'status' field" in err


def _wait_for_metric_lines(project, count: int, timeout: float) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for events_file in project.runs_dir.glob("*/events.jsonl"):
            if sum(1 for e in read_jsonl(events_file) if e["type"] == "metrics") >= count:
                return events_file
        time.sleep(0.05)
    raise AssertionError("the follower never recorded metrics")


def test_a_failed_hosted_run_is_not_offered_a_resume_it_cannot_do(fake_openai, project, capsys) -> None:
    # OpenAI resumes only jobs it paused; suggesting --resume for a failed job would send people in circles.
    fake_openai.outcome = "failed"
    code, out, err = _main(project, capsys, "train", "--backend", "openai", "--model", "gpt-4o-mini", "--wait")
    assert "failed" in err and "internal error" in err
    assert "--resume" not in out + err
    run_id = next(p.name for p in project.runs_dir.iterdir())
    code, out, err = _main(project, capsys, "status", run_id)
    assert code == 0 and "failed" in out and "--resume" not in out
