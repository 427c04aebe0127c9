"""Together AI: LoRA fine-tuning of open models, whose adapters can be downloaded and run locally.

Over httpx (no SDK). Creating a job is never retried blindly: after a timeout, a dropped
connection or a 5xx the job list is searched for one trained on this run's uploaded file (a file
id no other job can have) before creating again. When a job completes, its LoRA adapter is
downloaded into the run folder's `adapter/`, so the evaluation and chat steps can also use it
on the local backend; `model.json` holds both the hosted model name and that path.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

from backends.base import (
    TERMINAL_STATES,
    BackendError,
    Conversation,
    Event,
    GenerationParams,
    ModelRef,
    Readiness,
    TrainSpec,
)
from backends.hosted import together_wire as wire
from backends.hosted.archive import extract_archive
from backends.hosted.base import HostedBackend
from backends.hosted.errors import ProviderUnavailableError, RateLimitedError, require, safe_error
from backends.runs import RunFolder

ATTEMPTS = 3
RETRY_BASE_S = 0.5  # first wait between attempts; doubles each time


class TogetherBackend(HostedBackend):
    name = "together"
    provider = wire.PROVIDER
    supports_streaming = True
    status_map = {
        "pending": "queued",
        "queued": "queued",
        "running": "running",
        "compressing": "running",
        "uploading": "running",
        "cancel_requested": "running",
        "completed": "succeeded",
        "error": "failed",
        "cancelled": "cancelled",
    }

    def __init__(self, workspace: Any) -> None:
        super().__init__(workspace)
        self._wire: wire.TogetherHTTP | None = None

    def check(self, model: str | None = None) -> Readiness:
        try:
            http = self._http()
        except BackendError as exc:
            return Readiness(False, (f"{exc.title}. {exc.hint}".strip(),))
        reasons: list[str] = []
        notes = ["Trained LoRA adapters are downloaded into the run folder, so they also run locally."]
        if model:
            try:
                listed = http.json("GET", "models")
            except BackendError as exc:
                transient = isinstance(exc, (ProviderUnavailableError, RateLimitedError))
                (notes if transient else reasons).append(f"Model list unavailable: {exc.title}")
            else:
                if model not in {row.get("id") for row in wire.rows_of(listed, "a model list")}:
                    notes.append(f"{model} is not in {self.provider}'s model list; the job may be refused.")
        return Readiness(not reasons, tuple(reasons), tuple(notes), device=f"{self.provider} at {http.client.base_url}")

    # -- starting a job, exactly once ---------------------------------------------------------

    def _connect(self) -> None:
        self._http()

    def _upload(self, path: Path, content: bytes) -> str:
        form = {"purpose": "fine-tune", "file_name": path.name, "file_type": "jsonl"}
        # A repeated upload costs an orphan file at worst, never a second job: retry transient failures.
        for attempt in range(ATTEMPTS):
            try:
                uploaded = self._http().json("POST", "files/upload", data=form, files={"file": (path.name, content, "application/jsonl")})
                break
            except (ProviderUnavailableError, RateLimitedError) as exc:
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(min(getattr(exc, "retry_after", 0.0) or RETRY_BASE_S * 2**attempt, 30.0))
        require(uploaded, ("id",), "file", self.provider)
        return str(uploaded["id"])

    def _create_once(self, folder: RunFolder, spec: TrainSpec, files: dict[str, str]) -> dict[str, Any]:
        interrupted_before = bool(folder.read_status().get("create_requested_at"))
        folder.write_status(create_requested_at=time.time())
        last: BackendError | None = None
        for attempt in range(ATTEMPTS):
            if attempt or interrupted_before:
                found = self._find_job(files["train"])
                if found is not None:
                    return found
            try:
                job = self._http().json("POST", "fine-tunes", json=self._create_request(spec, files))
            except (ProviderUnavailableError, RateLimitedError) as exc:
                last = exc
                time.sleep(min(getattr(exc, "retry_after", 0.0) or RETRY_BASE_S * 2**attempt, 30.0))
                continue
            require(job, ("id", "status"), "fine-tuning job", self.provider)
            return job
        found = self._find_job(files["train"])
        if found is not None:
            return found
        raise safe_error(
            f"{self.provider} could not create the job after {ATTEMPTS} tries: {last.title if last else ''}",
            "Nothing was created. Run the same `tuneui train` again later.",
            ProviderUnavailableError,
        )

    def _create_request(self, spec: TrainSpec, files: dict[str, str]) -> dict[str, Any]:
        request: dict[str, Any] = {
            "training_file": files["train"],
            "model": spec.model,
            "n_epochs": spec.epochs or 1,
            "n_checkpoints": 1,
            "batch_size": spec.batch_size or "max",
            "training_type": {
                "type": "Lora",
                "lora_r": spec.lora_r,
                "lora_alpha": spec.lora_alpha,
                "lora_dropout": spec.lora_dropout,
                "lora_trainable_modules": ",".join(spec.lora_targets) or "all-linear",
            },
            "training_method": {"method": "sft", "train_on_inputs": "auto"},
            "random_seed": spec.seed,
        }
        if spec.learning_rate:
            request["learning_rate"] = spec.learning_rate
        if files.get("validation"):
            request["validation_file"] = files["validation"]
            request["n_evals"] = int(spec.options.get("n_evals", 10))
        if spec.suffix:
            request["suffix"] = spec.suffix[:40]
        return request

    def _find_job(self, training_file: str) -> dict[str, Any] | None:
        for job in wire.rows_of(self._http().json("GET", "fine-tunes"), "a job list"):
            if job.get("training_file") == training_file and job.get("id"):
                return dict(job)
        return None

    # -- following ----------------------------------------------------------------------------

    def _fetch(self, folder: RunFolder, status: dict[str, Any]) -> None:
        job_id = status["job_id"]
        http = self._http()
        job = http.json("GET", f"fine-tunes/{job_id}")
        require(job, ("id", "status"), "fine-tuning job", self.provider)
        raw_events = wire.rows_of(http.json("GET", f"fine-tunes/{job_id}/events"), "an event list")
        total_steps = max([int(e.get("total_steps") or 0) for e in raw_events] + [int(status.get("total_steps") or 0)]) or None
        news = wire.normalize_events(raw_events) + self._metric_events(folder, job_id, status, total_steps)
        self._append(folder, news)
        provider_status = str(job["status"])
        error = next((e.data["message"] for e in news if e.data.get("kind") == "job_error"), None) or status.get("error")
        if provider_status == "completed":
            # Adapter and model first: whoever sees "succeeded" finds them. A transient download
            # failure leaves the status as it was, and the next poll tries again.
            output = job.get("model_output_name") or job.get("output_name")
            require({"model_output_name": output}, ("model_output_name",), "completed job", self.provider)
            adapter = self._download_adapter(folder, job_id)
            ref = ModelRef(self.name, str(job.get("model") or ""), "hosted", path=adapter, model_id=str(output))
            self._finish(folder, ref, {"job_id": job_id})
        self._append(folder, self._apply_status(folder, provider_status, total_steps=total_steps, error=error))
        if self.status_map.get(provider_status) in TERMINAL_STATES:
            folder.write_status(follow_done=True)

    def _metric_events(self, folder: RunFolder, job_id: str, status: dict[str, Any], total_steps: int | None) -> list[Event]:
        # Nothing is trained before the job runs; the metrics endpoint is asked only from then on.
        if status.get("metrics_unavailable") or status.get("provider_status") in (None, "pending", "queued"):
            return []
        since = int(status.get("metrics_through") or 0)
        try:
            answer = self._http().json("GET", f"fine-tunes/{job_id}/metrics", params={"global_step_from": since})
        except BackendError as exc:
            if isinstance(exc, (ProviderUnavailableError, RateLimitedError)):
                raise
            # Older deployments lack the metrics endpoint (added 2026-06): follow without curves.
            folder.write_status(metrics_unavailable=True)
            note = {"level": "warn", "message": f"No training metrics from {self.provider}: {exc.title}"}
            return [Event("log", note, time.time(), id="metrics-unavailable")]
        rows = answer.get("metrics") if isinstance(answer, dict) else answer
        events = wire.normalize_metrics([row for row in rows or [] if isinstance(row, dict)], total_steps)
        if events:
            folder.write_status(metrics_through=max(int(e.data["step"]) for e in events))
        return events

    def _download_adapter(self, folder: RunFolder, job_id: str) -> str | None:
        """The trained LoRA adapter, unpacked into `adapter/`; None (with a warning) when unavailable."""
        if folder.adapter_dir.is_dir():
            return str(folder.adapter_dir)
        archive = folder.path / "adapter.download"
        try:
            self._http().download("finetune/download", {"ft_id": job_id, "checkpoint": "adapter"}, archive)
            extract_archive(archive, folder.adapter_dir)
        except (ProviderUnavailableError, RateLimitedError):
            raise  # the next poll tries again; the run is not finished until the adapter is here
        except BackendError as exc:
            message = f"The adapter could not be downloaded: {exc.title}. The hosted model still works."
            folder.append_events([Event("log", {"level": "warn", "message": message}, time.time(), id="adapter-download")])
            return None
        finally:
            archive.unlink(missing_ok=True)
        return str(folder.adapter_dir)

    # -- control and inference ----------------------------------------------------------------

    def cancel(self, run_id: str) -> None:
        folder = self._folder(run_id)
        job = self._http().json("POST", f"fine-tunes/{self._job_id(folder)}/cancel")
        require(job, ("status",), "fine-tuning job", self.provider)
        self._append(folder, self._apply_status(folder, str(job["status"])))

    def _complete(self, model: ModelRef, conversation: Conversation, params: GenerationParams) -> str:
        response = self._http().json("POST", "chat/completions", json=self._chat_request(model, conversation, params))
        require(response, ("choices",), "chat completion", self.provider)
        choices = response["choices"] or [{}]
        return str((choices[0].get("message") or {}).get("content") or "")

    def stream(self, model: ModelRef, conversation: Conversation, params: GenerationParams = GenerationParams()) -> Iterator[str]:
        request = {**self._chat_request(model, conversation, params), "stream": True}
        yield from wire.sse_text(self._http().stream_lines("chat/completions", request))

    def _http(self) -> wire.TogetherHTTP:
        if self._wire is None:
            settings = self.workspace.settings() if self.workspace is not None and self.workspace.exists() else None
            base_url = settings.together.base_url if settings is not None else "https://api.together.xyz/v1"
            self._wire = wire.TogetherHTTP(base_url, self.poll_seconds)
        return self._wire
