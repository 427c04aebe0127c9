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
