"""Fixtures of the UI tests: workspaces in each state of the five steps, built from plain files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tuneui.core.backend import Event, ModelRef, TrainSpec
from backends.runs import RunFolder
from tuneui.core.files import atomic_write_json
from tuneui.core.settings import Settings
from tuneui.core.workspace import Workspace, init_workspace

SYSTEM = "You answer support questions for Cadence Cycles."
QUESTIONS = [
    ("When are you open?", "Tuesday to Saturday 9-6, Sunday 10-4."),
    ("How much is a tune-up?", "A tune-up is £45."),
    ("Do you rent e-bikes?", "Yes: £40 a day."),
    ("What does delivery cost?", "£4.95, free over £50."),
    ("Can I return parts?", "Unused parts within 30 days."),
]


def chat_line(user: str, answer: str, system: str = SYSTEM) -> str:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return json.dumps({"messages": messages})


def examples(count: int) -> list[str]:
    return [chat_line(f"{q} (#{n})", a) for n in range(count) for q, a in [QUESTIONS[n % len(QUESTIONS)]]]


@pytest.fixture
def project(tmp_path: Path) -> Workspace:
    """An empty project with a fixed name, so nothing on screen depends on the temp folder."""
    settings = Settings()
    settings.project.name = "Cadence support"
    settings.project.system_prompt = SYSTEM
    settings.models.local = "models/tiny"
    return init_workspace(tmp_path / "project", settings)


def write_imported(workspace: Workspace, lines: list[str], name: str = "examples.jsonl") -> Path:
    path = workspace.data_dir / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_split(workspace: Workspace, train: int = 20, val: int = 5) -> None:
    lines = examples(train + val)
    workspace.train_file.write_text("\n".join(lines[:train]) + "\n", encoding="utf-8")
    workspace.val_file.write_text("\n".join(lines[train:]) + "\n", encoding="utf-8")


def write_baseline(workspace: Workspace) -> None:
    atomic_write_json(workspace.baseline_dir / "best.json", {"local:models/tiny@x": {"variant": "3-shot"}})


def write_cost(workspace: Workspace) -> None:
    rows = [
        {"backend": "local", "model": "models/tiny", "method": "qlora", "fits": None, "hours": 0.01, "cost_usd": None, "advice": []},
        {"backend": "openai", "model": "gpt-4o-mini-2024-07-18", "cost_usd": 0.42, "price_as_of": "2026-11-01", "warnings": []},
    ]
    atomic_write_json(workspace.reports_dir / "cost.json", {"rows": rows})


def write_run(
    workspace: Workspace,
    run_id: str = "20261123-120000-abcd",
    status: str = "running",
    losses: list[tuple[int, float, float | None]] | None = None,
    total_steps: int = 40,
    backend: str = "local",
) -> RunFolder:
    spec = TrainSpec(run_id=run_id, backend=backend, model="models/tiny", train_file=str(workspace.train_file))
    folder = RunFolder.create(workspace.runs_dir, spec)
    events = [
        Event("metrics", {"step": step, "total_steps": total_steps, "train_loss": train, "tokens_per_second": 1200.0,
                          **({"valid_loss": valid} if valid is not None else {})}, 1000.0 + step)
        for step, train, valid in (losses or [(5, 3.0, 3.1), (10, 2.5, 2.7), (15, 2.1, 2.4)])
    ]
    folder.append_events(events)
    changes: dict = {"status": status}
    if status == "succeeded":
        changes["model_ref"] = ModelRef("local", "models/tiny", kind="adapter", path=str(folder.adapter_dir)).to_dict()
    folder.write_status(**changes)
    return folder


def write_evaluation(workspace: Workspace, folder: RunFolder) -> None:
    result = {
        "run_id": folder.run_id,
        "split": "val",
        "examples": 2,
        "metrics": {"baseline": {"rouge_l": 0.31, "token_f1": 0.4}, "tuned": {"rouge_l": 0.52, "token_f1": 0.61}},
        "judge": None,
        "verdict": "tuned beats the 3-shot prompt on rouge_l: 0.52 vs 0.31",
        "baseline_variant": "3-shot",
        "baseline_model": "local:models/tiny",
        "differing": [
            {"line": 3, "request": "When are you open?", "reference": "Tuesday to Saturday 9-6.",
             "baseline": "We are open every day.", "tuned": "Tuesday to Saturday 9-6.", "gap": 0.8, "judge": "win",
             "judge_reason": "A gives the real opening hours; B invents them."},
            {"line": 7, "request": "How much is a tune-up?", "reference": "£45.",
             "baseline": "It costs £60.", "tuned": "A tune-up is £45.", "gap": 0.5, "judge": None},
        ],
    }
    atomic_write_json(folder.eval_dir / "result.json", result)


@pytest.fixture
def finished_project(project: Workspace) -> Workspace:
    """Every step done: split, baseline, cost, a succeeded run, its evaluation."""
    write_imported(project, examples(25))
    write_split(project)
    write_baseline(project)
    write_cost(project)
    folder = write_run(project, status="succeeded")
    write_evaluation(project, folder)
    return project


# `tuneui demo --headless` takes minutes on the real model and runs in a child process of its own: it starts
# as soon as collection ends, so it runs beside the rest of the suite, and its test only waits. Under
# pytest-xdist every worker collects every test: the first worker alone starts the demo, in a folder
# named after the test run that every worker can find, and whichever worker runs the test reads the
# demo's exit code, output and project from that folder.
HEADLESS_DEMO_TEST = "test_headless_demo_on_the_real_model_beats_the_best_prompt"
_headless_demo: dict[str, Any] = {}


def _demo_folder(config: pytest.Config) -> Path:
    import os
    import tempfile

    run = getattr(config, "workerinput", {}).get("testrunuid") or f"pid{os.getpid()}"
    return Path(tempfile.gettempdir()) / f"tuneui-headless-demo-{run}"


def _starts_the_demo(config: pytest.Config) -> bool:
    return getattr(config, "workerinput", {}).get("workerid", "gw0") == "gw0"


def _start_headless_demo(folder: Path) -> None:
    import os
    import subprocess
    import sys
    import threading

    from tests.conftest import PROJECT_ROOT
    from tuneui.core.children import tied_environment

    folder.mkdir()
    # Its own device locks: the session's are shared by module-scoped fixtures that train (e.g.
    # tests/local/test_local_training.py), which would be refused while the demo trains beside them.
    # Tied to this process (TUNEUI_PARENT_PID): a test run killed by a signal takes the demo with it.
    env = tied_environment({**os.environ, "TUNEUI_LOCK_DIR": str(folder / "device-locks")})
    with open(folder / "stdout", "wb") as out, open(folder / "stderr", "wb") as err:  # files: a full pipe would stall it
        process = subprocess.Popen(
            [sys.executable, "-m", "tuneui", "demo", str(folder / "demo"), "--headless", "--json"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=PROJECT_ROOT, start_new_session=True, env=env,
        )  # fmt: skip  (its own process group: stopping it stops the children it started too)

    def record_exit_code() -> None:  # written then renamed: a reader in another worker never sees half
        code = process.wait()
        (folder / "rc.tmp").write_text(str(code))
        os.replace(folder / "rc.tmp", folder / "rc")

    threading.Thread(target=record_exit_code, name="headless-demo", daemon=True).start()
    _headless_demo.update(folder=folder, process=process)


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if config.option.collectonly or not any(item.name == HEADLESS_DEMO_TEST for item in session.items):
        return
    if _starts_the_demo(config):
        _start_headless_demo(_demo_folder(config))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _headless_demo:
        return
    import os
    import shutil
    import signal
    import subprocess
    import time

    process, folder = _headless_demo["process"], _headless_demo["folder"]
    if exitstatus == pytest.ExitCode.INTERRUPTED or session.shouldstop:
        os.killpg(process.pid, signal.SIGKILL)  # the session ended first (-x, ctrl+c): stop the demo and its children
    try:
        process.wait(timeout=1800)  # another worker's test may still be waiting for it
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 60
    while folder.exists() and time.monotonic() < deadline:  # the reader removes it once it has read it
        time.sleep(0.5)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def headless_demo(request: pytest.FixtureRequest):
    """`finish(timeout)` waits for `tuneui demo DIR --headless --json`, at most `timeout` seconds from
    the call, and returns its exit code, stdout, stderr and DIR."""
    import shutil
    import time

    folder = _demo_folder(request.config)
    if not folder.exists():
        _start_headless_demo(folder)  # the test was not among those collected up front

    def finish(timeout: float) -> tuple[int, str, str, Path]:
        deadline = time.monotonic() + timeout
        while not (folder / "rc").exists():
            if time.monotonic() > deadline:
                stderr = (folder / "stderr").read_text(errors="replace") if (folder / "stderr").exists() else ""
                pytest.fail(f"`tuneui demo --headless` still running after {timeout} s; it said:\n{stderr[-3000:]}")
            time.sleep(1)
        code = int((folder / "rc").read_text())
        return code, (folder / "stdout").read_text(), (folder / "stderr").read_text(), folder / "demo"

    yield finish
    shutil.rmtree(folder, ignore_errors=True)


def write_export(workspace: Workspace, folder: RunFolder, *, command_text: str = "") -> None:
    """What `tuneui export RUN` leaves in exports/RUN/export.json, every check passed."""
    name = f"tiny-tuned-{folder.run_id}"
    result = {
        "run_id": folder.run_id, "folder": f"exports/{folder.run_id}", "backend": "local", "base_model": "models/tiny", "ok": True,
        "files": ["README.md", "merged/", f"{name}-f16.gguf", f"{name}-q8_0.gguf", "Modelfile"],
        "checks": {
            "merged_vs_adapter": {"ok": True, "same": 5, "total": 5},
            "gguf_metadata": {"ok": True, "stop_ids": [2], "files": {"f16": {"chat_template": True, "missing_stop_ids": []}, "q8_0": {"chat_template": True, "missing_stop_ids": []}}},
            "gguf_answers": {"ok": True, "file": f"{name}-q8_0.gguf", "total": 5, "ended": {"gguf": 5, "merged": 5}, "rules_passed": None},
            "modelfile": {"ok": True},
        },
        "commands": {
            "ollama": f"ollama create {name} -f Modelfile{command_text}",
            "llama_cpp": f"llama-server -m exports/{folder.run_id}/{name}-q8_0.gguf --jinja",
            "vllm": f"vllm serve models/tiny --enable-lora --lora-modules {name}=runs/{folder.run_id}/adapter --max-lora-rank 8",
        },
        "notes": ["q4_k_m was not written: llama.cpp's quantizer (llama-quantize) is not on PATH; install llama.cpp to get it."],
    }  # fmt: skip
    atomic_write_json(workspace.root / "exports" / folder.run_id / "export.json", result)
