"""The local QLoRA backend: training in a detached worker process, inference in another.

This module imports no torch: it runs in the UI process. Everything it knows about a run it reads
from the run folder, so any process (the UI after a reconnect, `tuneui status`) can follow a job.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from tuneui.core.backend import (
    TERMINAL_STATES,
    Backend,
    BackendError,
    Conversation,
    Estimate,
    Event,
    GenerationParams,
    JobStatus,
    ModelRef,
    NotReadyError,
    Readiness,
    TrainSpec,
)
from backends.local import kernels, launch
from backends.local.config import DEFAULT_BATCH_SIZE, model_config
from backends.local.devices import claim_devices, device_names
from backends.local.inference_process import InferenceProcess
from backends.local.models import check_prepared_model
from backends.runs import RunFolder
from tuneui.core.gpu import find_gpus

if TYPE_CHECKING:
    from tuneui.core.workspace import Workspace

ML_PACKAGES = ("torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate")
DEFAULT_EPOCHS = 3  # the recipe's default (backends/local/recipe.py)


class LocalBackend(Backend):
    name = "local"
    hosted = False
    supports_resume = True
    supports_streaming = True
    poll_seconds = 1.0

    def __init__(self, workspace: "Workspace", allow_concurrent: bool = False) -> None:
        self.workspace = workspace
        # True: train even while another local training holds the device (`--allow-concurrent`).
        self.allow_concurrent = allow_concurrent
        self._inference = InferenceProcess()
        self._checked_models: set[str] = set()

    # -- readiness and cost -------------------------------------------------------------------

    def check(self, model: str | None = None) -> Readiness:
        reasons: list[str] = []
        notes: list[str] = []
        missing = [name for name in ML_PACKAGES if importlib.util.find_spec(name) is None]
        if missing:
            reasons.append(f"Missing Python packages: {', '.join(missing)}; run `pip install 'tuneui[local]'`.")
        gpus = find_gpus()
        if gpus:
            smallest = min(gpus, key=lambda g: g.memory_gib)
            device = f"{len(gpus)} x {smallest.name} ({smallest.memory_gib:.0f} GiB)"
        else:
            device = "CPU"
            notes.append("No GPU found: training runs on the CPU, which only suits tiny models.")
        if model:
            if model_config(self.workspace.local_model_path(model), self.workspace.root) is None:
                reasons.append(
                    f"Model {model!r} was not found as a folder nor in the Hugging Face cache; "
                    "download it first (`huggingface-cli download NAME`) or name a local folder."
                )
        return Readiness(ok=not reasons, reasons=tuple(reasons), notes=tuple(notes), device=device)

    def estimate(self, spec: TrainSpec, stats: Mapping[str, Any]) -> Estimate:
        """The Cost step's local estimate; `stats` may carry `train_tokens` (one count per example)."""
        from tuneui.core.cost import local_estimate

        model = self.workspace.local_model_path(spec.model)
        config = model_config(model, self.workspace.root)
        if config is None:
            raise BackendError(
                f"No config.json for model {spec.model!r}",
                "Download the model (`huggingface-cli download NAME`) or pass a local model folder.",
            )
        gpus = find_gpus()
        settings = self.workspace.settings().local if self.workspace.exists() else None
        options = spec.options or {}
        # The kernels the worker will choose change the activations: estimate with the same ones.
        chosen = kernels.choose_kernels(kernels.probe_machine(bool(gpus)), config.get("model_type"), options)
        estimate = local_estimate(
            config,
            model=spec.model,
            train_tokens=list(stats.get("train_tokens") or ()),
            epochs=spec.epochs or DEFAULT_EPOCHS,
            batch_size=spec.batch_size or DEFAULT_BATCH_SIZE,
            max_length=spec.max_length,
            lora_rank=spec.lora_r,
            lora_dropout=spec.lora_dropout,
            gpu=min(gpus, key=lambda g: g.memory_gib) if gpus else None,
            method={"nf4": "qlora", "none": "lora"}.get(options.get("quantization", "")),
            gradient_checkpointing=options.get("gradient_checkpointing"),
            mfu=settings.measured_mfu if settings else None,
            gpu_hour_usd=settings.gpu_hour_usd if settings else 0.0,
            packing=chosen.packing,
            liger=chosen.liger,
        )
        return estimate.to_estimate()

    # -- jobs ---------------------------------------------------------------------------------

    def start(self, spec: TrainSpec) -> str:
        train_file = Path(spec.train_file)
        if not train_file.is_file():
            raise BackendError(f"Training file not found: {train_file}", "Run `tuneui data split` to create it.")
        model = self.workspace.local_model_path(spec.model)
        if model_config(model, self.workspace.root) is None:
            # The worker would only fail on it a minute later, in a log the user has to go and read.
            raise NotReadyError(
                f"Model {spec.model!r} is neither a model folder (with config.json) nor in the Hugging Face cache",
                "Download it first (`huggingface-cli download NAME`), or pass --model with a local model folder.",
            )
        self._check_model(model)
        spec = dataclasses.replace(
            spec,
            model=model,
            train_file=str(train_file.absolute()),
            val_file=str(Path(spec.val_file).absolute()) if spec.val_file else None,
        )
        runs_dir = self.workspace.runs_dir
        devices = self._claim_devices(runs_dir / spec.run_id)  # before the folder: a refused run leaves none
        try:
            folder = RunFolder.create(runs_dir, spec)
            with folder.locked():
                self._launch(folder, devices)
        finally:
            _close(devices)
        return spec.run_id

    def resume(self, run_id: str) -> str:
        """Start a new worker on an existing run; it continues from the newest complete checkpoint.

        Check and launch happen under the folder's lock, and the new worker's lock is taken before
        the lock is let go: of many resumes at once, one starts a worker and the others are refused.
        """
        folder = RunFolder.open(self.workspace.runs_dir, run_id)
        self._wait_for_exit(folder)
        with folder.locked():
            current = self.status(run_id)
            if current.status == "succeeded":
                raise BackendError(f"Run {run_id} already finished", "Its adapter is in the run folder; start a new run to train more.")
            if current.status in ("queued", "running"):
                raise BackendError(f"Run {run_id} is still running", f"Follow it with `tuneui status {run_id}`, or cancel it first.")
            if folder.worker_running():
                raise BackendError(f"Run {run_id} is {current.status}, but its worker is still exiting", "Try again in a few seconds.")
            devices = self._claim_devices(folder.path)
            try:
                folder.pid_path.unlink(missing_ok=True)  # the dead worker's pid must not speak for the new one
                folder.write_status(status="queued", error=None, queued_at=time.time(), resumed=time.time())
                self._launch(folder, devices)
            finally:
                _close(devices)
        return run_id

    def events(self, run_id: str, after: int = 0) -> list[Event]:
        return RunFolder.open(self.workspace.runs_dir, run_id).read_events(after)

    def status(self, run_id: str) -> JobStatus:
        folder = RunFolder.open(self.workspace.runs_dir, run_id)
        current = folder.job_status()
        if current.status in TERMINAL_STATES:
            return current
        # A worker killed hard (SIGKILL, OOM killer, reboot) cannot write its own obituary. Under
        # the lock, so that of many `status` calls at once only one writes it.
        with folder.locked():
            if not self._worker_gone(folder):
                return current
            folder.finish("failed", error=launch.stopped_worker_error(folder))
        return folder.job_status()

    def cancel(self, run_id: str) -> None:
        folder = RunFolder.open(self.workspace.runs_dir, run_id)
        self._wait_for_exit(folder)
        with folder.locked():
            current = self.status(run_id)
            if current.status in TERMINAL_STATES:
                raise BackendError(f"Run {run_id} is already {current.status}", "Nothing to cancel.")
            pid = launch.read_pid(folder)
            if not self._worker_gone(folder) and pid is not None:
                # The worker saves a checkpoint and writes `cancelled` itself on SIGTERM.
                launch.signal_worker(pid)
                folder.write_status(cancel_requested=time.time())
            else:
                folder.finish("cancelled")

    def result(self, run_id: str) -> ModelRef:
        current = self.status(run_id)
        if current.status != "succeeded" or current.model_ref is None:
            raise BackendError(
                f"Run {run_id} has no trained model yet (status: {current.status})",
                f"Follow it with `tuneui status {run_id}`; a cancelled or failed run continues with `tuneui train --resume {run_id}`.",
            )
        return current.model_ref

    # -- inference ----------------------------------------------------------------------------

    def generate(
        self, model: ModelRef, conversations: Sequence[Conversation], params: GenerationParams = GenerationParams()
    ) -> list[str]:
        return self.complete(model, conversations, params)[0]

    def complete(
        self, model: ModelRef, conversations: Sequence[Conversation], params: GenerationParams = GenerationParams()
    ) -> tuple[list[str], list[bool | None]]:
        return self._inference.generate(self._resolved_ref(model), conversations, params)

    def complete_counted(
        self, model: ModelRef, conversations: Sequence[Conversation], params: GenerationParams, on_count: Callable[[int], None]
    ) -> tuple[list[str], list[bool | None]]:
        """`complete`, with `on_count(n)` told how many answers are done as they finish (the
        worker counts inside a batch: a long baseline moves answer by answer, not batch by batch)."""
        return self._inference.generate(self._resolved_ref(model), conversations, params, on_count)

    def stream(
        self, model: ModelRef, conversation: Conversation, params: GenerationParams = GenerationParams()
    ) -> Iterator[str]:
        return self._inference.stream(self._resolved_ref(model), conversation, params)

    def close(self) -> None:
        """Stop the inference worker (it also stops by itself when this process exits)."""
        self._inference.close()

    # -- helpers ------------------------------------------------------------------------------

    def _claim_devices(self, run_dir: Path) -> list[int]:
        if self.allow_concurrent:
            return []
        return claim_devices(device_names(launch.visible_gpu_count()), run_dir)

    def _launch(self, folder: RunFolder, devices: list[int]) -> None:
        """Spawn the worker holding the run's lock and the device locks (taken here, handed down)."""
        # `processes` (TrainSpec.options) asks for several CPU processes where no GPU is visible.
        processes = int((folder.read_spec().options or {}).get("processes") or 1)
        command = launch.launch_command(folder.path, launch.visible_gpu_count(), cpu_processes=processes)
        worker_lock = folder.claim_worker()
        try:
            pid = launch.spawn_worker(folder, command, worker_lock, devices)
        finally:
            _close([worker_lock])
        folder.write_status(job_id=str(pid), pid=pid, launched=time.time())

    def _wait_for_exit(self, folder: RunFolder, seconds: float = 20.0) -> None:
        """A run that has its verdict may still have a worker tidying up (under `accelerate
        launch`, until every rank has exited): give it a moment rather than refuse at once."""
        deadline = time.monotonic() + seconds
        while folder.read_status().get("status") in TERMINAL_STATES and folder.worker_running() and time.monotonic() < deadline:
            time.sleep(0.2)

    def _worker_gone(self, folder: RunFolder) -> bool:
        if folder.worker_lock_path.exists():
            if not folder.worker_running():
                return True
            pid = launch.read_pid(folder)
            if pid is None or launch.worker_alive(pid):
                return False
            # The kernel drops a killed process's lock a moment after the process is gone.
            deadline = time.monotonic() + 2.0
            while folder.worker_running() and time.monotonic() < deadline:
                time.sleep(0.05)
            return not folder.worker_running()
        # A folder from before worker locks: judge by the pid, allowing the moment before it is written.
        pid = launch.read_pid(folder)
        if launch.worker_alive(pid):
            return False
        if pid is not None:
            return True
        status = folder.read_status()
        queued = status.get("queued_at") or status.get("created") or 0
        return time.time() - queued > 30

    def _resolved_ref(self, model: ModelRef) -> ModelRef:
        resolved = dataclasses.replace(model, base_model=self.workspace.local_model_path(model.base_model))
        self._check_model(resolved.base_model)
        return resolved

    def _check_model(self, path: str) -> None:
        """A model folder tuneui prepared is whole before torch gets it (once per backend object)."""
        if path not in self._checked_models:
            check_prepared_model(path, progress=lambda text: print(f"note: {text}", file=sys.stderr, flush=True))
            self._checked_models.add(path)


def _close(descriptors: list[int]) -> None:
    for fd in descriptors:
        os.close(fd)
