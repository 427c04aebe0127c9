"""The third attack, finding 6: `[local] learning_rate = inf` trained to a NaN validation loss, ended
"succeeded", and left `Infinity` in spec.json. A loss that is not a number now stops the run as
failed with the reason; no run folder holds a number JSON cannot (issue 24)."""

from __future__ import annotations

import json
import math
import threading
from types import SimpleNamespace

import pytest

from tuneui.core.backend import BackendError, TrainSpec
from backends.runs import RunFolder


def test_spec_json_never_holds_infinity(workspace):
    spec = TrainSpec(run_id="r1", backend="local", model="m", train_file=str(workspace.train_file), learning_rate=math.inf)
    with pytest.raises(BackendError) as caught:
        RunFolder.create(workspace.runs_dir, spec)
    assert "learning_rate" in caught.value.title and "finite" in caught.value.title
    assert not (workspace.runs_dir / "r1").exists()


def test_a_train_flag_of_inf_never_reaches_a_run(workspace, capsys):
    from tuneui.cli import main

    with pytest.raises(SystemExit):
        main(["--project", str(workspace.root), "train", "--learning-rate", "inf"])
    assert "--learning-rate" in capsys.readouterr().err
    assert not any(workspace.runs_dir.iterdir())


def _state(step: int) -> SimpleNamespace:
    return SimpleNamespace(global_step=step, max_steps=10, epoch=0.5, num_input_tokens_seen=100)


def _control() -> SimpleNamespace:
    return SimpleNamespace(should_training_stop=False, should_save=False)


def _events(folder: RunFolder) -> list[dict]:
    # json.loads takes NaN, so the strict reading is by hand: no line may hold one.
    text = folder.events_path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.integration  # backends.local.progress imports transformers
@pytest.mark.parametrize("which", ["train", "valid"])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_loss_that_is_not_a_number_stops_training_with_the_reason(workspace, which, bad):
    from backends.local.progress import RunProgress

    folder = RunFolder.create(workspace.runs_dir, TrainSpec(run_id="r2", backend="local", model="m", train_file="t.jsonl"))
    progress = RunProgress(folder, threading.Event(), is_main=True)
    control = _control()
    progress.on_step_begin(None, _state(1), control)
    progress.on_step_end(None, _state(1), control)
    progress.on_log(None, _state(1), control, logs={"loss": 2.0, "grad_norm": 1.0, "learning_rate": 1e-4})
    assert not control.should_training_stop
    if which == "train":
        progress.on_log(None, _state(2), control, logs={"loss": bad, "grad_norm": math.nan, "learning_rate": 1e-4})
    else:
        progress.on_evaluate(None, _state(2), control, metrics={"eval_loss": bad})
    assert control.should_training_stop and not control.should_save
    assert progress.diverged and "diverged" in progress.diverged and "step 2" in progress.diverged
    assert ("training" if which == "train" else "validation") in progress.diverged
    events = _events(folder)
    assert [e["data"]["message"] for e in events if e["type"] == "log"] == [progress.diverged]
    assert [e["data"]["step"] for e in events if e["type"] == "metrics"] == [1]


@pytest.mark.integration  # backends.local.progress imports transformers
def test_a_grad_norm_of_nan_is_written_as_null(workspace):
    from backends.local.progress import RunProgress

    folder = RunFolder.create(workspace.runs_dir, TrainSpec(run_id="r3", backend="local", model="m", train_file="t.jsonl"))
    progress = RunProgress(folder, threading.Event(), is_main=True)
    progress.on_log(None, _state(1), _control(), logs={"loss": 2.0, "grad_norm": math.inf, "learning_rate": 1e-4})
    (metrics,) = [e for e in _events(folder) if e["type"] == "metrics"]
    assert metrics["data"]["grad_norm"] is None and metrics["data"]["train_loss"] == 2.0


@pytest.mark.integration  # trains the tiny model in this process (torch, transformers, peft, trl)
def test_a_worker_whose_loss_turns_nan_fails_with_the_reason_and_saves_no_adapter(workspace, tmp_path, monkeypatch):
    from backends.local import progress as progress_module
    from backends.local import worker
    from backends.local.tiny import build_tiny_model

    from tests.local.conftest import SYSTEM, TICKETS, chat, write_jsonl

    model = build_tiny_model(tmp_path / "model", [SYSTEM] + [text for pair in TICKETS for text in pair])
    write_jsonl(workspace.train_file, [chat(u, a) for u, a in TICKETS * 2])
    write_jsonl(workspace.val_file, [chat(u, a) for u, a in TICKETS[::3]])
    spec = TrainSpec(
        run_id="nan-run", backend="local", model=str(model), train_file=str(workspace.train_file), val_file=str(workspace.val_file),
        steps=6, learning_rate=1e-3, batch_size=4, max_length=64, lora_r=4, lora_alpha=8,
    )  # fmt: skip
    folder = RunFolder.create(workspace.runs_dir, spec)
    real_on_log = progress_module.RunProgress.on_log

    def nan_at_step_3(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs and state.global_step >= 3:
            logs = {**logs, "loss": math.nan}  # what lr = inf did to the demo's real run
        return real_on_log(self, args, state, control, logs=logs, **kwargs)

    monkeypatch.setattr(progress_module.RunProgress, "on_log", nan_at_step_3)
    with pytest.raises(BackendError) as caught:
        worker.train(folder, threading.Event())
    assert "Training diverged: the training loss became nan at step 3" in caught.value.title
    assert "learning rate" in caught.value.hint
    assert not folder.adapter_dir.exists()
    steps = [e["data"]["step"] for e in _events(folder) if e["type"] == "metrics" and "train_loss" in e["data"]]
    assert steps == [1, 2]
