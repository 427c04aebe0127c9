"""The detached training worker: `python -m backends.local.worker RUN_DIR`.

Reads `spec.json`, trains, and reports only through the run folder (events, status.json,
checkpoints, adapter/). SIGTERM saves a checkpoint and ends as `cancelled`; a new worker on the
same folder resumes from the newest complete checkpoint.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from tuneui.core.backend import BackendError
from backends.local.cpu_share import share
from backends.local.launch import DEVICE_LOCKS_ENV, WORKER_LOCK_ENV
from backends.runs import RunFolder, WorkerBusyError
from tuneui.core.files import atomic_write_json

# How often the worker looks for its run folder: a deleted run stops within this many seconds.
FOLDER_CHECK_SECONDS = 5.0


def train(folder: RunFolder, cancel_requested: threading.Event) -> str:
    """Run (or resume) the run in `folder`; return the final state word."""
    from backends.local import recipe, training_data

    spec = folder.read_spec()
    is_main = int(os.environ.get("RANK", "0")) == 0
    # Bad data fails here, in a second, before the ML stack takes its ten seconds to import.
    train_records = training_data.read_chat_file(spec.train_file)
    val_records = training_data.read_chat_file(spec.val_file) if spec.val_file and Path(spec.val_file).is_file() else []

    from datasets import Dataset
    from transformers import AutoTokenizer, EarlyStoppingCallback
    from trl import SFTTrainer

    from backends.local.progress import RunProgress, newest_complete_checkpoint, remove_incomplete_checkpoints, resume_note

    tokenizer = AutoTokenizer.from_pretrained(spec.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    loss_on, loss_note = training_data.choose_loss(tokenizer)
    plan, model = recipe.plan_and_load(spec, training_data.token_counts(tokenizer, train_records), bool(val_records), loss_on)
    if loss_on == "completion":
        train_records, val_records = training_data.as_prompt_completion(train_records), training_data.as_prompt_completion(val_records)
    progress = RunProgress(folder, cancel_requested, is_main)
    planned = [f"Plan: {reason}" for reason in ((spec.options or {}).get("plan") or {}).get("reasons") or ()]
    for note in ([loss_note] if loss_note else []) + planned + list(plan.notes):
        progress.emit("log", {"message": note})

    if cancel_requested.is_set():
        return "cancelled"  # nothing trained yet: no checkpoint to write
    callbacks: list[Any] = [progress]
    if val_records and spec.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=spec.early_stopping_patience))
    trainer = SFTTrainer(
        model=model,
        args=recipe.sft_config(spec, plan, folder.checkpoints_dir),
        train_dataset=Dataset.from_list(train_records),
        eval_dataset=Dataset.from_list(val_records) if val_records else None,
        processing_class=tokenizer,
        peft_config=recipe.lora_config(spec),
        callbacks=callbacks,
    )
    trained_stop = training_data.stop_token_trained(trainer, tokenizer)
    if trained_stop is False:
        progress.emit("log", {"message": "Warning: the loss does not cover the end-of-turn token, so the tuned model may not "
                              "learn to stop; check the model's chat template."})  # fmt: skip
    elif trained_stop:
        progress.emit("log", {"message": "The loss covers the answer and its end-of-turn token: the model learns to stop."})
    resume_from = None
    resuming = folder.checkpoints_dir.is_dir() or bool(folder.read_status().get("resumed"))
    removed = remove_incomplete_checkpoints(folder.checkpoints_dir) if is_main else []
    newest = newest_complete_checkpoint(folder.checkpoints_dir)
    note = resume_note(newest, removed, plan.total_steps, resuming)
    if note:
        progress.emit("log", {"message": note})
    if newest is not None:
        resume_from, step = newest
        progress.emit("status", {"status": "running", "resumed_from_step": step})
        if is_main:
            folder.write_status(resumed_from_step=step)
    else:
        progress.emit("status", {"status": "running", "total_steps": plan.total_steps})
    if newest is not None and newest[1] >= plan.total_steps:
        # Killed after its last checkpoint: all steps are trained. The trainer, resumed inside an
        # epoch, would skip the trained batches and then train one step past max_steps.
        _restore_finished(trainer, newest[0], bool(val_records))
    else:
        with share().busy():  # shares the cores with a baseline or chat running beside it
            trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)

    state = trainer.state
    best_step = state.best_global_step if val_records else None
    if progress.diverged:
        raise BackendError(
            progress.diverged,
            "Lower the learning rate (--learning-rate or [local] learning_rate, e.g. by 10x) and start a new run.",
        )
    if progress.cancelled:
        return "cancelled"
    if val_records and state.global_step < state.max_steps:
        progress.emit(
            "log",
            {"message": f"Early stop at step {state.global_step}: validation loss stopped improving; "
             f"the best checkpoint (step {best_step}) is kept."},
        )  # fmt: skip
    if is_main:
        _save_adapter(folder, trainer, tokenizer, spec.to_dict(), plan.to_dict(), best_step, state.best_metric)
    return "succeeded"


def _restore_finished(trainer, checkpoint: Path, has_validation: bool) -> None:
    """Load a finished run's weights and state from its last checkpoint, as `train()` would end:
    with validation, the best checkpoint's weights (load_best_model_at_end)."""
    from transformers import TrainerState

    trainer.state = TrainerState.load_from_json(str(checkpoint / "trainer_state.json"))
    best = trainer.state.best_model_checkpoint
    chosen = Path(best) if has_validation and best and Path(best).is_dir() else checkpoint
    trainer._load_from_checkpoint(str(chosen))  # the adapter weights only, for a peft model


def _save_adapter(folder: RunFolder, trainer, tokenizer, spec: dict, plan: dict, best_step, best_loss) -> None:
    """adapter/ = adapter weights + tokenizer + chat template + training_config.json, atomically."""
    staging = folder.path / ".adapter.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    trainer.save_model(str(staging))  # with load_best_model_at_end, the weights are the best step's
    tokenizer.save_pretrained(str(staging))
    atomic_write_json(
        staging / "training_config.json",
        {"spec": spec, "plan": plan, "best_step": best_step, "best_valid_loss": best_loss, "steps": trainer.state.global_step,
         "processes": trainer.args.world_size},
    )
    shutil.rmtree(folder.adapter_dir, ignore_errors=True)
    os.replace(staging, folder.adapter_dir)
    folder.write_status(best_step=best_step)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m backends.local.worker RUN_DIR", file=sys.stderr)
        return 2
    folder = RunFolder(Path(args[0]))
    is_main = int(os.environ.get("RANK", "0")) == 0
    try:
        device_locks = _hold_locks(folder)
    except WorkerBusyError as exc:
        print(f"{exc.title}\n{exc.hint}", file=sys.stderr)
        return 2  # another worker owns this run: touch none of its files
    _watch_run_folder(folder)
    cancel_requested = threading.Event()
    # The handler only raises a flag: the trainer checks it between steps and saves first.
    signal.signal(signal.SIGTERM, lambda signum, frame: cancel_requested.set())
    signal.signal(signal.SIGINT, lambda signum, frame: cancel_requested.set())
    if Path(folder.read_spec().model).is_dir():
        # Everything is on disk: without this, libraries look the folder name up on the hub and
        # wait for network timeouts on an offline box.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if is_main:
        folder.write_status(status="running", pid=os.getpid(), started=time.time(), error=None)
    try:
        outcome = train(folder, cancel_requested)
    except BackendError as exc:
        return _fail(folder, is_main, f"{exc.title}\n{exc.hint}" if exc.hint else exc.title, device_locks)
    except Exception as exc:
        traceback.print_exc()
        # The recorded error is one line; the traceback above, in worker.log, has the rest.
        first_line = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        return _fail(folder, is_main, f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__, device_locks)
    _release(device_locks)  # the device is free once training is over: the next run may start
    if is_main:
        changes: dict[str, Any] = {}
        if outcome == "succeeded":
            spec = folder.read_spec()
            changes["model_ref"] = {"backend": "local", "base_model": spec.model, "kind": "adapter", "path": str(folder.adapter_dir)}
        folder.finish(outcome, **changes)
    return 0


def _hold_locks(folder: RunFolder) -> list[int]:
    """Make sure this process owns the run's worker lock for its whole life; return the device locks.

    The launcher claims the locks and hands them down (no window where a second worker could
    start); a worker started by hand claims the run's lock itself. Under `accelerate launch` the
    launcher process holds them for all ranks.
    """
    if "LOCAL_RANK" in os.environ:
        return []
    inherited = os.environ.pop(WORKER_LOCK_ENV, None)
    # Kept open until exit: the lock lives as long as this process.
    run_lock = int(inherited) if inherited and inherited.isdigit() else folder.claim_worker()
    devices = [int(fd) for fd in os.environ.pop(DEVICE_LOCKS_ENV, "").split(",") if fd.strip().isdigit()]
    for fd in (run_lock, *devices):
        # Only this process holds them: a child (a data loader, a compile pool) that outlived a
        # killed worker would keep the run "running" and the device busy.
        os.set_inheritable(fd, False)
        os.register_at_fork(after_in_child=lambda fd=fd: _close_quietly(fd))
    return devices


def _watch_run_folder(folder: RunFolder, every: float = FOLDER_CHECK_SECONDS) -> None:
    """Stop this worker soon after its run folder is deleted (or replaced by another of that name).

    Nobody can follow, resume or use such a run, and a cancel cannot reach a worker whose pid file
    is gone: training on would only hold the CPU or GPU. No checkpoint is saved, since saving would
    write the deleted folder back; the process ends at once, from this thread, without waiting for
    a training step to finish (one step of a large model can take minutes).
    """
    try:
        identity = _identity(folder.path)
    except OSError:
        return

    def watch() -> None:
        while True:
            time.sleep(every)
            try:
                if _identity(folder.path) == identity and folder.spec_path.is_file():
                    continue
            except OSError:
                pass
            print(f"The run folder {folder.path} was deleted: the worker stops without saving.", file=sys.stderr, flush=True)
            os._exit(3)

    threading.Thread(target=watch, name="run-folder-watch", daemon=True).start()


def _identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _release(descriptors: list[int]) -> None:
    for fd in descriptors:
        _close_quietly(fd)
    descriptors.clear()


def _fail(folder: RunFolder, is_main: bool, error: str, device_locks: list[int]) -> int:
    print(error, file=sys.stderr)
    _release(device_locks)
    if is_main:
        folder.finish("failed", error=error)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
