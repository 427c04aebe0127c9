"""Fireworks AI: supervised LoRA fine-tuning of open models, whose adapters can be downloaded.

Over httpx (no SDK; shapes from `fireworks-ai` 1.2.3, see `fireworks_wire`). Every resource a run
makes is named by tuneui from the run id (its datasets, its job, its output model), so creating
twice is impossible and an unanswered create is found again by its name. When the job completes,
the trained LoRA model's files are downloaded into `adapter/`. The tuned model answers on
Fireworks where it is deployed (serverless LoRA); where Fireworks says it is not, the downloaded
adapter runs on this machine when its base model is here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

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
from backends.hosted import fireworks_wire as wire
from backends.hosted.archive import ArchiveLimits
from backends.hosted.backoff import transient
from backends.hosted.base import HostedBackend
from backends.hosted.errors import ProviderUnavailableError, RefusedError, provider_text, require, safe_error
from backends.runs import RunFolder

DOWNLOAD_TRIES = 5
READY_POLLS = 30  # polls of an uploaded dataset until Fireworks says READY
LOCAL_ADAPTER = "local-adapter"


class FireworksBackend(HostedBackend):
    name = "fireworks"
    provider = wire.PROVIDER
    status_map = wire.STATUS_MAP

    def __init__(self, workspace: Any) -> None:
        super().__init__(workspace)
        self._wire: wire.FireworksHTTP | None = None
        self._run: tuple[str, TrainSpec] | None = None  # the run whose files are being uploaded
        self._local_backend: Any = None

    def check(self, model: str | None = None) -> Readiness:
        try:
            http = self._http()
        except BackendError as exc:
            return Readiness(False, (f"{exc.title}. {exc.hint}".strip(),))
        reasons: list[str] = []
        if model:
            try:
                http.json("GET", f"v1/{self._base_name(model)}")
            except RefusedError as exc:
                reasons.append(f"{self.provider} does not know {model}: {exc.title}")
            except BackendError as exc:
                if not transient(exc):
                    raise
        notes = ("Trained LoRA adapters are downloaded into the run folder, so they also run locally.",)
        return Readiness(not reasons, tuple(provider_text(r) for r in reasons), notes, device=f"{self.provider} at {http.client.base_url}")

    # -- starting a job, exactly once ---------------------------------------------------------

    def _connect(self) -> None:
        self._http()

    def _submit(self, folder: RunFolder, spec: TrainSpec) -> None:
        self._run = (folder.run_id, spec)
        super()._submit(folder, spec)

    def _upload(self, path: Path, content: bytes) -> str:
        """A dataset named for this run and role: created (once: a repeat answers 409), filled, READY."""
        assert self._run is not None
        run_id, spec = self._run
        dataset = wire.resource_id(run_id, "train" if str(path) == spec.train_file else "val")
        examples = sum(1 for line in content.splitlines() if line.strip())
        body = {"datasetId": dataset, "dataset": {"userUploaded": {}, "exampleCount": str(examples), "format": "CHAT"}}
        http = self._http()
        try:
            self._with_retries(lambda: http.json("POST", http.of_account("datasets"), json=body))
        except RefusedError as exc:
            if exc.status_code != 409:  # 409: an earlier, unanswered try made it
                raise
        upload = {"file": (path.name, content, "application/jsonl")}
        self._with_retries(lambda: http.json("POST", http.of_account(f"datasets/{dataset}:upload"), files=upload))
        for _ in range(READY_POLLS):
            state = self._with_retries(lambda: http.json("GET", http.of_account(f"datasets/{dataset}")))
            if isinstance(state, dict) and state.get("state") == "READY":
                return f"accounts/{http.account}/datasets/{dataset}"
            time.sleep(self.poll_seconds)
        raise safe_error(f"{self.provider} did not make dataset {dataset} ready", "Run the same `tuneui train` again later.", ProviderUnavailableError)

    def _post_job(self, spec: TrainSpec, files: dict[str, str]) -> dict[str, Any]:
        http = self._http()
        job_id = wire.resource_id(spec.run_id, "job")
        job = http.json("POST", http.of_account("supervisedFineTuningJobs"), params={"supervisedFineTuningJobId": job_id},
                        json=self._job_request(spec, files))  # fmt: skip
        return self._as_job(job, job_id)

    def _job_request(self, spec: TrainSpec, files: dict[str, str]) -> dict[str, Any]:
        request: dict[str, Any] = {
            "dataset": files["train"],
            "baseModel": self._base_name(spec.model),
            "outputModel": wire.resource_id(spec.run_id, "model"),
            "displayName": f"tuneui {spec.run_id}"[:64],
            "epochs": spec.epochs or 1,
            "loraRank": spec.lora_r,
        }
        if spec.learning_rate:
            request["learningRate"] = spec.learning_rate
        if spec.batch_size:
            request["batchSizeSamples"] = spec.batch_size
        if files.get("validation"):
            request["evaluationDataset"] = files["validation"]
        return request

    def _find_job(self, folder: RunFolder, files: dict[str, str]) -> dict[str, Any] | None:
        # The job's id is this run's own: an earlier, unanswered create made it or nothing did.
        job_id = wire.resource_id(folder.run_id, "job")
        http = self._http()
        try:
            return self._as_job(http.json("GET", http.of_account(f"supervisedFineTuningJobs/{job_id}")), job_id)
        except RefusedError as exc:
            if exc.status_code == 404:
                return None
            raise

    def _as_job(self, job: Any, job_id: str) -> dict[str, Any]:
        require(job, ("name", "state"), "supervised fine-tuning job", self.provider)
        if wire.last_segment(job["name"], "job name") != job_id:
            raise safe_error(f"{self.provider} answered with another job ({str(job['name'])[:80]})", "", ProviderUnavailableError)
        return {**job, "id": job_id, "status": str(job["state"])}

    @staticmethod
    def _base_name(model: str) -> str:
        return model if model.startswith("accounts/") else f"accounts/fireworks/models/{model}"

    # -- following ----------------------------------------------------------------------------

    def _fetch(self, folder: RunFolder, status: dict[str, Any]) -> None:
        http = self._http()
        raw = http.json("GET", http.of_account(f"supervisedFineTuningJobs/{status['job_id']}"))
        job = self._as_job(raw, status["job_id"])  # its `status` becomes the state word; the reason is raw's
        state = str(job["state"])
        metrics = self._metric_events(folder, job, status)
        self._append(folder, metrics)
        steps = [int(e.data["step"]) for e in metrics if e.type == "metrics"]
        if steps:  # after the events are stored: a crash between the two re-reads rows, never loses one
            folder.write_status(metrics_through=max(steps))
        ours = self.status_map.get(state)
        error = status.get("error")
        if ours == "failed":
            reason = raw["status"].get("message") if isinstance(raw.get("status"), dict) else None
            error = provider_text(str(reason or f"{self.provider} reports {state}"))
        if ours == "succeeded":
            # Model and adapter first: whoever sees "succeeded" finds them. Not ready yet: next poll.
            output = f"accounts/{http.account}/models/{wire.last_segment(job.get('outputModel'), 'output model')}"
            adapter = self._download_adapter(folder, output)
            self._finish(folder, ModelRef(self.name, str(job.get("baseModel") or ""), "hosted", path=adapter, model_id=output), {"job_id": job["id"]})
        self._append(folder, self._apply_status(folder, state, error=error))
        if ours in TERMINAL_STATES:
            folder.write_status(follow_done=True)

    def _metric_events(self, folder: RunFolder, job: dict[str, Any], status: dict[str, Any]) -> list[Event]:
        url = job.get("metricsFileSignedUrl")
        if status.get("metrics_unavailable") or not isinstance(url, str) or not url:
            return []
        try:
            rows = self._http().signed_json_lines(url)
        except BackendError as exc:
            if transient(exc):
                raise
            # A metrics file tuneui cannot read (refused, oversized): follow on without curves, say so once.
            folder.write_status(metrics_unavailable=True)
            note = {"level": "warn", "message": f"No training metrics from {self.provider}: {exc.title}"}
            return [Event("log", note, time.time(), id="metrics-unavailable")]
        events = wire.metric_events(rows, int(status.get("metrics_through") or 0))
        return [Event(e.type, e.data, time.time(), id=e.id) for e in events]

    def _download_adapter(self, folder: RunFolder, model_name: str) -> str | None:
        """The trained LoRA model's files in `adapter/`; None when they cannot be had for good."""
        if folder.adapter_dir.is_dir():
            return str(folder.adapter_dir)
        status = folder.read_status()
        if status.get("adapter_download") == "failed":
            return None
        http = self._http()
        try:
            model = http.json("GET", f"v1/{model_name}")
            if not isinstance(model, dict) or model.get("state") != "READY":
                raise safe_error(f"{self.provider} is still writing the trained model", "", ProviderUnavailableError)
            answer = http.json("GET", f"v1/{model_name}:getDownloadEndpoint")
            urls = answer.get("filenameToSignedUrls") if isinstance(answer, dict) else None
            http.download_files(urls if isinstance(urls, dict) else {}, folder.adapter_dir, ArchiveLimits.from_settings(self._settings()))
        except BackendError as exc:
            tries = int(status.get("adapter_download_tries") or 0) + 1
            if transient(exc) and tries < DOWNLOAD_TRIES:
                folder.write_status(adapter_download_tries=tries)
                raise
            folder.write_status(adapter_download="failed", adapter_error=provider_text(exc.title), adapter_download_tries=0)
            message = f"The adapter could not be downloaded: {exc.title}. The model on {self.provider} still works."
            self._append(folder, [Event("log", {"level": "warn", "message": message}, time.time(), id="adapter-download")])
            return None
        folder.write_status(adapter_download="done", adapter_error=None)
        return str(folder.adapter_dir)

    # -- control and inference ----------------------------------------------------------------

    def cancel(self, run_id: str) -> None:
        folder = self._folder(run_id)
        http = self._http()
        self._with_retries(lambda: http.json("POST", http.of_account(f"supervisedFineTuningJobs/{self._job_id(folder)}:cancel"), json={}))
        self._refresh(folder, force=True)

    def generate(self, model: ModelRef, conversations: Sequence[Conversation], params: GenerationParams = GenerationParams()) -> list[str]:
        """Replies from Fireworks; a tuned model it does not serve runs from its adapter here."""
        folder = self._run_of(model)
        if folder is not None and folder.read_status().get("inference") == LOCAL_ADAPTER:
            return self._local_generate(folder, model, conversations, params)
        try:
            return super().generate(model, conversations, params)
        except RefusedError as exc:
            if exc.status_code != 404 or folder is None:
                raise
            folder.write_status(inference=LOCAL_ADAPTER)
            note = {"level": "info", "message": f"{self.provider} does not serve {model.model_id}; evaluation and chat use the downloaded adapter here."}
            self._append(folder, [Event("log", note, time.time(), id=f"inference:{LOCAL_ADAPTER}")])
            return self._local_generate(folder, model, conversations, params)

    def _local_generate(self, folder: RunFolder, model: ModelRef, conversations: Sequence[Conversation], params: GenerationParams) -> list[str]:
        from tuneui.core.providers import get_backend, here

        base = self._local_base(folder)
        if base is None or not folder.adapter_dir.is_dir():
            raise BackendError(
                f"{self.provider} does not serve {model.model_id}, and its base model is not on this machine",
                f"Deploy it on Fireworks (`firectl create deployment {model.model_id}`), or put its base model here and set "
                "`[fireworks] local_base_model` in tuneui.toml so the downloaded adapter runs locally.",
            )
        if self._local_backend is None:
            self._local_backend = get_backend(here().name, self.workspace)
        routed = ModelRef(here().name, base, "adapter", path=str(folder.adapter_dir))
        return self._local_backend.generate(routed, conversations, params)

    def _local_base(self, folder: RunFolder) -> str | None:
        settings = self._settings()
        configured = settings.fireworks.local_base_model if settings is not None else ""
        try:
            written = str(json.loads((folder.adapter_dir / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path") or "")
        except (OSError, ValueError):
            written = ""
        for name in (configured, written):
            if name and Path(self.workspace.local_model_path(name)).is_dir():
                return str(self.workspace.local_model_path(name))
        return None

    def _run_of(self, model: ModelRef) -> RunFolder | None:
        if model.path and (Path(model.path).parent / "spec.json").is_file():
            return RunFolder(Path(model.path).parent)
        return None

    def _complete(self, model: ModelRef, conversation: Conversation, params: GenerationParams) -> str:
        # A completion is safe to ask again: a 429 waits for its retry-after, then asks again.
        http, request = self._http(), self._chat_request(model, conversation, params)
        response = self._with_retries(lambda: http.json("POST", "inference/v1/chat/completions", json=request))
        require(response, ("choices",), "chat completion", self.provider)
        choices = response["choices"] or [{}]
        return provider_text(str((choices[0].get("message") or {}).get("content") or ""))

    def _settings(self) -> Any:
        return self.workspace.settings() if self.workspace is not None and self.workspace.exists() else None

    def _http(self) -> wire.FireworksHTTP:
        if self._wire is None:
            settings = self._settings()
            section = settings.fireworks if settings is not None else None
            base_url = section.base_url if section is not None else "https://api.fireworks.ai"
            self._wire = wire.FireworksHTTP(base_url, section.account_id if section is not None else "", self.poll_seconds)
        return self._wire
