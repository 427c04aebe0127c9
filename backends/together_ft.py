"""Together AI: LoRA fine-tuning of open models, whose adapters can be downloaded and run locally.

Over httpx (no SDK). Readiness comes from the fine-tunable model list and its limits; the job is
priced by Together before it is created; creating is never retried blindly (HostedBackend's
create-once, finding an earlier attempt's job by this run's uploaded training file id). When a
job completes, its LoRA adapter is downloaded (through Together's presigned redirect) and
unpacked as a hostile archive into the run folder's `adapter/`; `model.json` holds both the
hosted model name and that path. Where the tuned model answers: `together_serving`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tuneui.core.backend import (
    TERMINAL_STATES,
    BackendError,
    Conversation,
    Event,
    GenerationParams,
    ModelRef,
    Readiness,
    TrainSpec,
)
from backends.hosted import together_serving as serving
from backends.hosted import together_wire as wire
from backends.hosted.archive import ArchiveLimits, extract_archive
from backends.hosted.backoff import transient
from backends.hosted.base import HostedBackend
from backends.hosted.errors import provider_number, provider_text, require, safe_error
from backends.runs import RunFolder


# Transient failures of the adapter download tolerated before it is marked failed (and the run
# finishes without it): polls keep the run "running" meanwhile, so this bounds that wait.
DOWNLOAD_TRIES = 5


class TogetherBackend(serving.TogetherServing, HostedBackend):
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
        # Not in the published spec, but in both official SDKs: the job refused the user's data.
        "user_error": "failed",
        "cancelled": "cancelled",
    }

    def __init__(self, workspace: Any) -> None:
        super().__init__(workspace)
        self._wire: wire.TogetherHTTP | None = None
        self._endpoints: dict[str, ModelRef] = {}

    def check(self, model: str | None = None) -> Readiness:
        """Key, then the model: in `/fine-tunes/models/supported`, and within its `/limits`."""
        try:
            http = self._http()
        except BackendError as exc:
            return Readiness(False, (f"{exc.title}. {exc.hint}".strip(),))
        reasons: list[str] = []
        notes = ["Trained LoRA adapters are downloaded into the run folder, so they also run locally."]
        if model:
            try:
                supported = wire.supported_models(http.json("GET", "fine-tunes/models/supported"))
                limits = http.json("GET", "fine-tunes/models/limits", params={"model_name": model}) if model in supported else None
            except BackendError as exc:
                (notes if transient(exc) else reasons).append(f"Fine-tunable model list unavailable: {exc.title}")
            else:
                if model not in supported:
                    close = [name for name in supported if model.split("/")[-1].lower() in name.lower()][:3]
                    reasons.append(f"{self.provider} does not fine-tune {model}." + (f" Close: {', '.join(close)}." if close else ""))
                else:
                    reason, note = wire.lora_limits(model, limits)
                    reasons += [reason] if reason else []
                    notes += [note] if note else []
        return Readiness(not reasons, tuple(provider_text(r) for r in reasons), tuple(provider_text(n) for n in notes),
                         device=f"{self.provider} at {http.client.base_url}")

    # -- starting a job, exactly once ---------------------------------------------------------

    def _connect(self) -> None:
        self._http()

    def _upload(self, path: Path, content: bytes) -> str:
        form = {"purpose": "fine-tune", "file_name": path.name, "file_type": "jsonl"}
        # A repeated upload costs an orphan file at worst, never a second job: retry transient failures.
        upload = {"file": (path.name, content, "application/jsonl")}
        uploaded = self._with_retries(lambda: self._http().json("POST", "files/upload", data=form, files=upload))
        require(uploaded, ("id",), "file", self.provider)
        return wire.job_word(uploaded["id"], "file id")

    def _create_once(self, folder: RunFolder, spec: TrainSpec, files: dict[str, str]) -> dict[str, Any]:
        if "quoted_usd" not in folder.read_status():
            self._quote(folder, self._create_request(spec, files))
        return super()._create_once(folder, spec, files)

    def _quote(self, folder: RunFolder, request: dict[str, Any]) -> None:
        """Together's own price for this job, asked before the job is made: kept in status.json and
        the events, and a job the account is not allowed to pay for is never created."""
        fields = ("training_file", "validation_file", "model", "n_epochs", "n_evals", "training_method", "training_type")
        body = {key: request[key] for key in fields if key in request}
        try:
            quote = self._with_retries(lambda: self._http().json("POST", "fine-tunes/estimate-price", json=body))
        except BackendError as exc:
            # The quote informs; without one (an older deployment, an outage) the job still starts.
            folder.write_status(quoted_usd=None)
            note = {"level": "warn", "message": f"No price estimate from {self.provider}: {exc.title}"}
            self._append(folder, [Event("log", note, time.time(), id="estimate-price")])
            return
        quote = quote if isinstance(quote, dict) else {}
        price, limit = provider_number(quote.get("estimated_total_price")), provider_number(quote.get("user_limit"))
        tokens = {"train": wire.count(quote.get("estimated_train_token_count")), "eval": wire.count(quote.get("estimated_eval_token_count"))}
        shown = f"${price:,.2f}" if price is not None else "an unknown price"
        message = f"{self.provider} estimates this job at {shown} ({tokens['train']:,} training and {tokens['eval']:,} evaluation tokens)."
        self._append(folder, [Event("log", {"level": "info", "message": message}, time.time(), id=f"estimate-price:{time.time():.0f}")])
        if quote.get("allowed_to_proceed") is False:
            over = f" (this account's limit: ${limit:,.2f})" if limit is not None else ""
            raise BackendError(f"{self.provider} will not run this job: its estimate {shown} is over what the account may spend{over}",
                               "Add credit at together.ai, or train on fewer tokens or epochs; nothing was created.")
        # Kept only once allowed: starting the same run again asks again, never skips a refusal.
        folder.write_status(quoted_usd=price, quoted_tokens=tokens)

    def _post_job(self, spec: TrainSpec, files: dict[str, str]) -> dict[str, Any]:
        job = self._http().json("POST", "fine-tunes", json=self._create_request(spec, files))
        require(job, ("id", "status"), "fine-tuning job", self.provider)
        return {**job, "id": wire.job_word(job["id"], "job id")}

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
            request["n_evals"] = int(spec.options.get("n_evals", self._default_evaluations()))
        if spec.suffix:
            request["suffix"] = spec.suffix[:40]
        return request

    @staticmethod
    def _default_evaluations() -> int:
        """The n_evals sent with a validation file: the price table's, so the estimate bills what runs."""
        from tuneui.core.cost import load_prices

        return load_prices().provider("together").training_evaluations

    def _find_job(self, folder: RunFolder, files: dict[str, str]) -> dict[str, Any] | None:
        # Together jobs carry no metadata, but the uploaded training file id is this run's alone.
        for job in wire.rows_of(self._http().json("GET", "fine-tunes"), "a job list"):
            if job.get("training_file") == files["train"] and job.get("id"):
                return {**job, "id": wire.job_word(job["id"], "job id")}
        return None

    # -- following ----------------------------------------------------------------------------

    def _fetch(self, folder: RunFolder, status: dict[str, Any]) -> None:
        job_id = status["job_id"]
        http = self._http()
        job = http.json("GET", f"fine-tunes/{job_id}")
        require(job, ("id", "status"), "fine-tuning job", self.provider)
        raw_events = wire.rows_of(http.json("GET", f"fine-tunes/{job_id}/events"), "an event list")
        total_steps = max([wire.count(e.get("total_steps")) for e in raw_events] + [wire.count(status.get("total_steps"))]) or None
        news = wire.normalize_events(raw_events) + self._metric_events(folder, job_id, status, total_steps, str(job["status"]))
        self._append(folder, news)
        provider_status = str(job["status"])
        error = next((e.data["message"] for e in news if e.data.get("kind") in wire.FAILURE_KINDS), None) or status.get("error")
        if provider_status == "user_error" and not error:
            error = f"{self.provider} refused the job's data (user_error); check data/train.jsonl with `tuneui data check`."
        if provider_status == "completed":
            # Model (and adapter) first: whoever sees "succeeded" finds them. A transient download
            # failure leaves the status as it was, and the next poll tries again.
            output = wire.job_word(job.get("model_output_name") or job.get("output_name"), "output model name")
            adapter = self._download_adapter(folder, job_id)
            ref = ModelRef(self.name, str(job.get("model") or ""), "hosted", path=adapter, model_id=output)
            self._finish(folder, ref, {"job_id": job_id})
        self._append(folder, self._apply_status(folder, provider_status, total_steps=total_steps, error=error))
        if self.status_map.get(provider_status) in TERMINAL_STATES:
            folder.write_status(follow_done=True)

    def _metric_events(self, folder: RunFolder, job_id: str, status: dict[str, Any], total_steps: int | None, now: str) -> list[Event]:
        # Nothing is trained before the job runs; the metrics endpoint is asked only from then on,
        # judged by the job's status now: a job nobody followed may have gone from pending to done.
        if status.get("metrics_unavailable") or now in ("pending", "queued"):
            return []
        since = int(status.get("metrics_through") or 0)
        try:
            # The filter is a JSON body on a GET, as the API reference has it.
            answer = self._http().json("GET", f"fine-tunes/{job_id}/metrics", json={"global_step_from": since})
        except BackendError as exc:
            if transient(exc):
                raise
            # Older deployments lack the metrics endpoint (added 2026-06): follow without curves.
            folder.write_status(metrics_unavailable=True)
            note = {"level": "warn", "message": f"No training metrics from {self.provider}: {exc.title}"}
            return [Event("log", note, time.time(), id="metrics-unavailable")]
        rows = answer.get("metrics") if isinstance(answer, dict) else answer
        events = wire.normalize_metrics([row for row in rows or [] if isinstance(row, dict)] if isinstance(rows, list) else [], total_steps)
        if events:
            folder.write_status(metrics_through=max(int(e.data["step"]) for e in events))
        return events

    def _download_adapter(self, folder: RunFolder, job_id: str) -> str | None:
        """The trained LoRA adapter, unpacked into `adapter/`; None when it cannot be had.

        A transient failure is raised (the next poll tries again) up to DOWNLOAD_TRIES times; a
        damaged, hostile or oversized archive, or a refusal, is final: the run still succeeds with
        its hosted model, the download is marked failed in status.json and a warning says how to
        try again (`tuneui train --resume RUN`)."""
        if folder.adapter_dir.is_dir():
            return str(folder.adapter_dir)
        status = folder.read_status()
        if status.get("adapter_download") == "failed":
            return None
        archive = folder.path / "adapter.download"
        limits = ArchiveLimits.from_settings(self._settings())
        try:
            self._http().download("finetune/download", {"ft_id": job_id, "checkpoint": "adapter"}, archive, limits.max_bytes)
            extract_archive(archive, folder.adapter_dir, limits)
        except BackendError as exc:
            tries = int(status.get("adapter_download_tries") or 0) + 1
            if transient(exc) and tries < DOWNLOAD_TRIES:
                folder.write_status(adapter_download_tries=tries)
                raise
            self._download_failed(folder, exc)
            return None
        finally:
            archive.unlink(missing_ok=True)
        folder.write_status(adapter_download="done", adapter_error=None)
        return str(folder.adapter_dir)

    def _download_failed(self, folder: RunFolder, exc: BackendError) -> None:
        message = (
            f"The adapter could not be downloaded: {exc.title}. The hosted model still works; "
            f"try the download again with `tuneui train --resume {folder.run_id}`."
        )
        folder.write_status(adapter_download="failed", adapter_error=provider_text(exc.title), adapter_download_tries=0)
        self._append(folder, [Event("log", {"level": "warn", "message": message}, time.time(), id=f"adapter-download:{time.time():.0f}")])

    def resume(self, run_id: str) -> str:
        """For a succeeded run whose adapter download failed: download it again. Together jobs
        themselves cannot be resumed."""
        folder = self._folder(run_id)
        status = folder.read_status()
        ref = folder.model_ref()
        if status.get("status") != "succeeded" or ref is None:
            raise BackendError(f"The {self.name} backend cannot resume a job", "Start a new run with `tuneui train`.")
        if folder.adapter_dir.is_dir():
            return run_id
        folder.write_status(adapter_download=None, adapter_download_tries=0)
        adapter = self._download_adapter(folder, self._job_id(folder))
        if adapter is None:
            raise safe_error(f"The adapter of run {run_id} could not be downloaded: {folder.read_status().get('adapter_error')}",
                             "The hosted model still works; `tuneui status RUN` shows the run.")
        model = {**ref.to_dict(), "path": adapter}
        self._finish(folder, ModelRef.from_dict(model), {"job_id": status.get("job_id")})
        return run_id

    # -- control and inference ----------------------------------------------------------------

    def cancel(self, run_id: str) -> None:
        folder = self._folder(run_id)
        job = self._http().json("POST", f"fine-tunes/{self._job_id(folder)}/cancel")
        require(job, ("status",), "fine-tuning job", self.provider)
        self._append(folder, self._apply_status(folder, str(job["status"])))

    def _complete(self, model: ModelRef, conversation: Conversation, params: GenerationParams) -> str:
        # A completion is safe to ask again: a 429 or an outage waits and retries, not ends the evaluation.
        request = self._chat_request(model, conversation, params)
        response = self._with_retries(lambda: self._http().json("POST", "chat/completions", json=request))
        require(response, ("choices",), "chat completion", self.provider)
        choices = response["choices"] or [{}]
        return provider_text(str((choices[0].get("message") or {}).get("content") or ""), serving.REPLY_LIMIT)

    def _settings(self) -> Any:
        return self.workspace.settings() if self.workspace is not None and self.workspace.exists() else None

    def _http(self) -> wire.TogetherHTTP:
        if self._wire is None:
            settings = self._settings()
            base_url = settings.together.base_url if settings is not None else "https://api.together.xyz/v1"
            self._wire = wire.TogetherHTTP(base_url, self.poll_seconds)
        return self._wire
