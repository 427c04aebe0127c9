"""Training progress as run-folder events, and the cancel request turned into a clean stop.

Runs in the worker only. The run folder is the one channel to other processes: the UI, `tuneui
status` and `train --wait` read what this callback writes.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any, Mapping

from transformers import TrainerCallback

from tuneui.core.backend import Event
from backends.local.cpu_share import share
from backends.runs import RunFolder
from tuneui.core.files import atomic_write_text

COMPLETE_MARKER = "tuneui-complete"  # written after every file of a checkpoint is on disk


class RunProgress(TrainerCallback):
    """Writes `metrics`, `checkpoint` and `log` events; stops training when cancel is requested."""

    def __init__(self, folder: RunFolder, cancel_requested: threading.Event, is_main: bool) -> None:
        self.folder = folder
        self.cancel_requested = cancel_requested
        self.is_main = is_main
        self.cancelled = False
        self.diverged: str | None = None  # why training stopped on a loss that is not a number
        self._train_seconds = 0.0
        self._step_started = 0.0
        self._tokens_at_log = 0
        self._seconds_at_log = 0.0

    def emit(self, kind: str, data: Mapping[str, Any]) -> None:
        if self.is_main:
            self.folder.append_events([Event(kind, dict(data), time.time())])

    def on_train_begin(self, args, state, control, **kwargs):
        self._tokens_at_log = state.num_input_tokens_seen

    def on_step_begin(self, args, state, control, **kwargs):
        share().adjust()  # this step's share of the cores, if an inference child started meanwhile
        self._step_started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self._train_seconds += time.perf_counter() - self._step_started
        if _any_rank(self.cancel_requested.is_set()):
            # Save where we are, then stop: `--resume` continues from exactly this step.
            self.cancelled = True
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" not in logs:
            return  # eval logs arrive through on_evaluate; the final summary is not a step
        if not math.isfinite(float(logs["loss"])):
            return self._diverge("training", logs["loss"], state, control)
        tokens = state.num_input_tokens_seen - self._tokens_at_log
        seconds = self._train_seconds - self._seconds_at_log
        self._tokens_at_log, self._seconds_at_log = state.num_input_tokens_seen, self._train_seconds
        self.emit(
            "metrics",
            {
                "step": state.global_step,
                "total_steps": state.max_steps,
                "epoch": round(state.epoch or 0.0, 4),
                "train_loss": float(logs["loss"]),
                "learning_rate": float(logs.get("learning_rate", 0.0)),
                "grad_norm": _float(logs.get("grad_norm")),
                "tokens_per_second": round(tokens / seconds, 1) if seconds > 0 else None,
            },
        )

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        loss = (metrics or {}).get("eval_loss")
        if loss is not None and not math.isfinite(float(loss)):
            return self._diverge("validation", loss, state, control)
        if loss is not None:
            self.emit("metrics", {"step": state.global_step, "total_steps": state.max_steps, "valid_loss": float(loss)})

    def _diverge(self, which: str, loss: Any, state, control):
        """A loss of nan or inf: the weights are lost, and every later step is too. Stop now, with
        no checkpoint (it would hold the broken weights); the worker fails the run with this reason."""
        self.diverged = (
            f"Training diverged: the {which} loss became {float(loss)} at step {state.global_step}, "
            "so the weights are no longer numbers"
        )
        self.emit("log", {"message": self.diverged})
        control.should_training_stop = True
        control.should_save = False
        return control

    def on_save(self, args, state, control, **kwargs):
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if self.is_main and checkpoint.is_dir():
            # The trainer writes a checkpoint file by file; this marker says all of them landed,
            # so a resume after SIGKILL never picks up half a checkpoint.
            atomic_write_text(checkpoint / COMPLETE_MARKER, f"{state.global_step}\n")
            self.emit("checkpoint", {"step": state.global_step, "path": str(checkpoint)})


def newest_complete_checkpoint(checkpoints_dir: Path) -> tuple[Path, int] | None:
    """The highest-step checkpoint whose marker exists; half-written ones are ignored."""
    found: list[tuple[int, Path]] = []
    for path in checkpoints_dir.glob("checkpoint-*"):
        suffix = path.name.removeprefix("checkpoint-")
        if suffix.isdigit() and (path / COMPLETE_MARKER).is_file():
            found.append((int(suffix), path))
    if not found:
        return None
    step, path = max(found)
    return path, step


def remove_incomplete_checkpoints(checkpoints_dir: Path) -> list[Path]:
    """Delete checkpoints a crash left half-written (the trainer would otherwise rotate on them)."""
    import shutil

    removed = []
    for path in checkpoints_dir.glob("checkpoint-*"):
        if not (path / COMPLETE_MARKER).is_file():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def resume_note(newest: tuple[Path, int] | None, removed: list[Path], total_steps: int, resuming: bool) -> str | None:
    """The sentence a resume logs: which checkpoint it continues from, or why it starts over."""
    dropped = sorted(path.name for path in removed)
    incomplete = (
        f"{', '.join(dropped)} {'was' if len(dropped) == 1 else 'were'} incomplete (the worker stopped while writing "
        f"{'it' if len(dropped) == 1 else 'them'}) and {'was' if len(dropped) == 1 else 'were'} removed"
    ) if dropped else ""  # fmt: skip
    if newest is not None:
        path, step = newest
        return f"Resumed from {path.name} (step {step} of {total_steps}), the newest complete checkpoint" + (f"; {incomplete}." if incomplete else ".")
    if not resuming and not dropped:
        return None  # a first start: nothing to explain
    if dropped:
        return f"No complete checkpoint to resume from: {incomplete}, so training starts again from step 1."
    return "No checkpoint was saved before the worker stopped, so training starts again from step 1."


def _any_rank(flag: bool) -> bool:
    """Under DDP every rank must stop at the same step, or the others wait forever in all-reduce."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return flag
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def _float(value: Any) -> float | None:
    """A finite float, or None: events are JSON, which has no nan or inf."""
    try:
        number = None if value is None else float(value)
    except (TypeError, ValueError):
        return None
    return number if number is not None and math.isfinite(number) else None
