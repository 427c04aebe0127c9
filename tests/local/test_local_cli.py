"""The train/status/cancel/runs commands on bad input: a clear message and a non-zero exit, no traceback."""

from __future__ import annotations

import pytest

import json

from tuneui.core.backend import Event, TrainSpec
from backends.local.backend import LocalBackend
from tuneui.commands.follow import progress_line

from .conftest import TICKETS, chat, run_cli, wait_for, write_jsonl


def test_train_without_split_data_points_to_data_split(workspace, tiny_model):
    out = run_cli(workspace.root, "train", "--backend", "local", "--model", str(tiny_model))
    assert out.returncode == 2
    assert "train.jsonl is missing" in out.stderr and "tuneui data split" in out.stderr
    assert "Traceback" not in out.stderr
    assert not list(workspace.runs_dir.iterdir())


@pytest.mark.integration
def test_train_needs_a_model_from_flag_or_settings(workspace):
    out = run_cli(workspace.root, "train", "--backend", "local")
    assert out.returncode == 2 and "No base model" in out.stderr and "[models] local" in out.stderr


@pytest.mark.integration
def test_steps_and_epochs_are_exclusive_and_positive(workspace):
    assert run_cli(workspace.root, "train", "--steps", "3", "--epochs", "1").returncode == 2
    out = run_cli(workspace.root, "train", "--steps", "-1")
    assert out.returncode == 2 and "must be at least 1" in out.stderr


@pytest.mark.integration
def test_status_of_unknown_or_absent_runs(workspace):
    out = run_cli(workspace.root, "status")
    assert out.returncode == 2 and "No runs yet" in out.stderr
    out = run_cli(workspace.root, "status", "nope", "--json")
    assert out.returncode == 2 and "No run named 'nope'" in out.stderr and "tuneui runs" in out.stderr
    assert run_cli(workspace.root, "runs").stdout.startswith("No runs yet")


@pytest.mark.integration
def test_resume_refuses_flags_that_would_change_the_run(workspace):
    out = run_cli(workspace.root, "train", "--resume", "r1", "--steps", "5")
    assert out.returncode == 2 and "--steps" in out.stderr


@pytest.mark.integration
def test_resume_refuses_save_every_instead_of_ignoring_it(workspace):
    out = run_cli(workspace.root, "train", "--resume", "r1", "--save-every", "5")
    assert out.returncode == 2 and "--save-every cannot change it" in out.stderr and "Traceback" not in out.stderr


def test_a_bad_line_fails_the_run_with_file_and_line(workspace, tiny_model):
    write_jsonl(workspace.train_file, [chat(u, a) for u, a in TICKETS[:3]])
    with open(workspace.train_file, "a", encoding="utf-8") as handle:
        handle.write('{"messages": [{"role": "user", "content": "no answer"}]}\n')
    backend = LocalBackend(workspace)
    run_id = backend.start(TrainSpec(run_id=workspace.new_run_id(), backend="local", model=str(tiny_model), train_file=str(workspace.train_file), steps=2))
    final = wait_for(lambda: (s := backend.status(run_id)).status in ("failed", "succeeded") and s, timeout=120)
    assert final.status == "failed"
    assert f"{workspace.train_file}:4" in final.error and "no assistant message" in final.error
    out = run_cli(workspace.root, "status", run_id)
    assert "failed" in out.stdout and "train.jsonl:4" in out.stdout
    assert f"tuneui train --resume {run_id}" in out.stdout
    cancel = run_cli(workspace.root, "cancel", run_id)
    assert cancel.returncode == 2 and "already failed" in cancel.stderr
    assert json.loads(run_cli(workspace.root, "status", "--json").stdout)["status"] == "failed"


def test_progress_lines_are_short_and_uniform():
    metrics = Event("metrics", {"step": 7, "total_steps": 40, "train_loss": 1.23456, "learning_rate": 2e-4, "tokens_per_second": 12345.6}, 0.0)
    assert progress_line(metrics) == "step 7/40  train 1.2346  lr 2.00e-04  12,346 tok/s"
    assert progress_line(Event("metrics", {"step": 8, "total_steps": 40, "valid_loss": 0.5}, 0.0)) == "step 8/40  valid 0.5000"
    assert progress_line(Event("status", {"status": "running", "resumed_from_step": 20}, 0.0)) == "status running (resumed from step 20)"
    assert progress_line(Event("checkpoint", {"step": 20}, 0.0)) == "checkpoint at step 20"


def test_a_progress_line_leaves_out_what_no_run_logs():
    # A damaged events.jsonl or a provider's odd field: `tuneui train --follow` must go on printing.
    odd = Event("metrics", {"step": 9, "total_steps": "[red]x", "train_loss": "NaN?", "learning_rate": None, "tokens_per_second": "fast"}, 0.0)
    assert progress_line(odd) == "step 9/?"
    assert progress_line(Event("metrics", {"step": 9, "valid_loss": float("inf")}, 0.0)) == "step 9/?"


@pytest.mark.integration
def test_status_shows_a_run_error_literally(workspace):
    # The error comes from a provider or a worker's exception: it must not command the terminal.
    from backends.runs import RunFolder

    spec = TrainSpec(run_id="20261123-120000-abcd", backend="local", model="models/tiny", train_file=str(workspace.train_file))
    RunFolder.create(workspace.runs_dir, spec).write_status(status="failed", error="quota \x1b]0;OWNED\x07 exceeded\x1b[2J")
    out = run_cli(workspace.root, "status", spec.run_id)
    assert "\x1b" not in out.stdout + out.stderr and "\x07" not in out.stdout + out.stderr
    assert "error: quota ␛]0;OWNED␇ exceeded␛[2J" in out.stdout
