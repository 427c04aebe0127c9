"""The OpenAI fine-tuning API (Azure OpenAI, the same SDK, builds on it in `azure_ft`).

Named `openai_ft` so it never shadows the `openai` package. The SDK's own retries are set per
call on purpose: job creation gets none (HostedBackend's create-once looks for the job an
unanswered request may have made, by `metadata.tuneui_run`, before trying again), polls get none
(the next poll is the retry, spaced by `poll_seconds` and any retry-after), uploads and
completions keep the SDK's default.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Iterator, Sequence

from tuneui.core.backend import (
    TERMINAL_STATES,
    BackendError,
    Conversation,
    Event,
    GenerationParams,
    ModelRef,
    NotReadyError,
    Readiness,
    TrainSpec,
)
from backends.hosted import openai_wire as wire
from backends.hosted.base import HostedBackend
from backends.hosted.errors import provider_count
from backends.hosted.notices import base_of, openai_dated_notices, shutdown_date_note
from backends.runs import RunFolder

EVENT_PAGE_SIZE = 100
LOOKUP_PAGES = 10  # how far back to look for a job we may have created; jobs list newest first


class OpenAIBackend(HostedBackend):
    name = "openai"
    provider = "OpenAI"
    supports_pause = True
    supports_resume = True
    supports_streaming = True
    max_tokens_field = "max_completion_tokens"
    status_map = {
        "validating_files": "queued",
        "queued": "queued",
        "running": "running",
        "paused": "running",
        "succeeded": "succeeded",
        "failed": "failed",
        "cancelled": "cancelled",
    }

    @staticmethod
    def today() -> dt.date:
        from tuneui.core import providers as registry

        return registry.today()

    def __init__(self, workspace: Any) -> None:
        super().__init__(workspace)
        self._sdk: Any = None

    # -- readiness ----------------------------------------------------------------------------

    def check(self, model: str | None = None) -> Readiness:
        reasons: list[str] = []
        notes: list[str] = []
        try:
            dated_reasons, dated_notes = self._dated_notices(model)
            reasons += dated_reasons
            notes += dated_notes
            client = self._client(max_retries=1)
        except BackendError as exc:
            return Readiness(False, tuple([f"{exc.title}. {exc.hint}".strip()] + reasons), tuple(notes))
        if model:
            try:
                listed = {m["id"]: m for m in map(wire.as_dict, client.models.list())}
            except Exception as exc:
                error = wire.translate(exc, self.provider, self.poll_seconds)
                (notes if wire.is_transient(error) else reasons).append(f"Model list unavailable: {error.title}")
            else:
                entry = listed.get(model) or listed.get(self._base_of(model))
                if entry is None:
                    notes.append(f"{model} is not in this key's model list; {self.provider} may refuse the job.")
                else:
                    model_reasons, model_notes = self._model_notes(model, entry)
                    reasons += model_reasons
                    notes += model_notes
        return Readiness(not reasons, tuple(reasons), tuple(notes), device=f"{self.provider} at {client.base_url}")

    def _dated_notices(self, model: str | None) -> tuple[list[str], list[str]]:
        return openai_dated_notices(model, self.today())

    @staticmethod
    def _base_of(model: str) -> str:
        return base_of(model)

    def _model_notes(self, model: str, entry: dict[str, Any]) -> tuple[list[str], list[str]]:
        reason, note = shutdown_date_note(model, entry.get("shutdown_date"), self.today())
        return [reason] if reason else [], [note] if note else []

    # -- starting a job, exactly once ---------------------------------------------------------

    def _connect(self) -> None:
        self._client()

    def _upload(self, path: Path, content: bytes) -> str:
        # The SDK's default retries are fine here: a repeated upload costs an unused file, not a job.
        upload = (path.name, content, "application/jsonl")
        uploaded = self._call(lambda client: client.files.create(file=upload, purpose="fine-tune"), retries=2)
        return str(wire.require_field(wire.as_dict(uploaded), "id", "file", self.provider))

    def _post_job(self, spec: TrainSpec, files: dict[str, str]) -> dict[str, Any]:
        request = self._job_request(spec, files)
        return self._job(lambda client: client.fine_tuning.jobs.create(**request), retries=0)

    def _job_request(self, spec: TrainSpec, files: dict[str, str]) -> dict[str, Any]:
        return wire.job_request(spec, files)

    def _find_job(self, folder: RunFolder, files: dict[str, str]) -> dict[str, Any] | None:
        """The job tagged with this run, if an earlier attempt created it after all."""
        run_id = folder.run_id
        # The filter is checked here too: an OpenAI-compatible server may ignore it.
        return self._first_job(
            lambda job: (job.get("metadata") or {}).get("tuneui_run") == run_id, metadata={"tuneui_run": run_id}
        )

    def _first_job(self, is_ours: Any, **filters: Any) -> dict[str, Any] | None:
        """The newest job, of the last LOOKUP_PAGES pages, for which `is_ours(job)` holds."""
        after: str | None = None
        for _ in range(LOOKUP_PAGES):
            kwargs = {"after": after} if after else {}
            page = self._call(lambda client: client.fine_tuning.jobs.list(limit=100, **filters, **kwargs), retries=2)
            jobs = [wire.as_dict(job) for job in page.data]
            for job in jobs:
                if is_ours(job):
                    return wire.require_job(job, self.provider)
            if not page.has_more or not jobs:
                return None
            after = jobs[-1]["id"]
        return None

    # -- following ----------------------------------------------------------------------------

    def _fetch(self, folder: RunFolder, status: dict[str, Any]) -> None:
        job_id = status["job_id"]
        job = self._job(lambda client: client.fine_tuning.jobs.retrieve(job_id))
        news = self._new_events(folder, job_id)
        self._append(folder, news)
        provider_status = str(job["status"])
        trained_tokens = provider_count(job.get("trained_tokens"))
        final = self.status_map.get(provider_status) in TERMINAL_STATES
        # Checkpoints are listed when an event announces one, and once at the end (nothing is missed).
        if final or any("checkpoint" in str(event.data.get("message", "")).lower() for event in news):
            pages = self._call(lambda client: client.fine_tuning.jobs.checkpoints.list(job_id, limit=100))
            self._append(folder, [wire.normalize_checkpoint(wire.as_dict(c), self.provider) for c in reversed(pages.data)])
        if provider_status == "succeeded":
            # The model is recorded before the status says so: whoever sees "succeeded" finds it.
            model_id = wire.require_field(job, "fine_tuned_model", "succeeded job", self.provider)
            ref = ModelRef(self.name, str(job.get("model") or ""), "hosted", model_id=str(model_id))
            self._finish(folder, ref, {"job_id": job_id, "trained_tokens": trained_tokens})
        changes = {"error": wire.failure_text(job), "trained_tokens": trained_tokens}
        self._append(folder, self._apply_status(folder, provider_status, **changes))
        if final:
            folder.write_status(follow_done=True)

    def _new_events(self, folder: RunFolder, job_id: str) -> list[Event]:
        """Every event not yet in events.jsonl, oldest first. Pages run newest first, so stop at a known id."""
        seen = {event.id for event in folder.read_events() if event.id}
        collected: list[Event] = []
        after: str | None = None
        while True:
            kwargs = {"after": after} if after else {}
            page = self._call(lambda client: client.fine_tuning.jobs.list_events(job_id, limit=EVENT_PAGE_SIZE, **kwargs))
            raw_events = [wire.as_dict(event) for event in page.data]
            fresh = [wire.normalize_event(raw, self.provider) for raw in raw_events]
            known_at = next((i for i, event in enumerate(fresh) if event.id in seen), None)
            collected += fresh if known_at is None else fresh[:known_at]
            if known_at is not None or not page.has_more or not raw_events:
                break
            after = raw_events[-1]["id"]
        # Appended oldest first: what a crash leaves written is always a prefix of the history.
        return list(reversed(collected))

    # -- control ------------------------------------------------------------------------------

    def cancel(self, run_id: str) -> None:
        self._control(run_id, "cancel")

    def pause(self, run_id: str) -> None:
        self._control(run_id, "pause")

    def resume(self, run_id: str) -> str:
        """Resume a paused job. A finished job cannot go on: OpenAI has no resume-from-checkpoint."""
        state = self._folder(run_id).read_status().get("status")
        if state in TERMINAL_STATES:
            raise BackendError(
                f"{self.provider} cannot resume a {state} job; only a paused one",
                "Start a new run with `tuneui train`.",
            )
        self._control(run_id, "resume")
        return run_id

    def _control(self, run_id: str, action: str) -> None:
        folder = self._folder(run_id)
        job_id = self._job_id(folder)
        # Idempotent on the provider's side, so the SDK may retry these.
        job = self._job(lambda client: getattr(client.fine_tuning.jobs, action)(job_id), retries=2)
        self._append(folder, self._apply_status(folder, str(job["status"])))

    # -- inference ----------------------------------------------------------------------------

    def require_callable(self, model: ModelRef) -> None:
        self._require_served(model)

    def generate(self, model: ModelRef, conversations: Sequence[Conversation], params: GenerationParams = GenerationParams()) -> list[str]:
        self._require_served(model)
        return super().generate(model, conversations, params)

    def _require_served(self, model: ModelRef) -> None:
        """A model this provider tuned, of a family it has shut down, is gone: say so before any call."""
        from tuneui.core import providers as registry

        declared = registry.provider(self.name)
        name = model.model_id or model.base_model
        if model.kind == "hosted" and not declared.serves_tuned(name, self.today()):
            raise NotReadyError(
                f"{name} is gone: {declared.title} stopped serving fine-tunes of "
                f"{' and '.join(declared.trains_families)} on {declared.models_gone}",
                "The run's events and any evaluation report are kept. Train again on another provider "
                "(`tuneui estimate` compares them) or here with `--backend local`.",
            )

    def _complete(self, model: ModelRef, conversation: Conversation, params: GenerationParams) -> str:
        request = self._chat_request(model, conversation, params)
        response = wire.as_dict(self._call(lambda client: client.chat.completions.create(**request), retries=2))
        wire.require_field(response, "choices", "chat completion", self.provider)
        choices = response["choices"] or [{}]
        return str((choices[0].get("message") or {}).get("content") or "")

    def stream(self, model: ModelRef, conversation: Conversation, params: GenerationParams = GenerationParams()) -> Iterator[str]:
        request = {**self._chat_request(model, conversation, params), "stream": True}
        try:
            for chunk in self._client().chat.completions.create(**request):
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
        except Exception as exc:
            raise wire.translate(exc, self.provider, self.poll_seconds) from None

    # -- plumbing -----------------------------------------------------------------------------

    def _settings(self) -> Any:
        return self.workspace.settings() if self.workspace is not None and self.workspace.exists() else None

    def _client(self, max_retries: int = 2) -> Any:
        if self._sdk is None:
            self._sdk = wire.make_client(self._settings(), self.provider, azure=self.name == "azure")
        return self._sdk.with_options(max_retries=max_retries)

    def _call(self, request: Any, retries: int = 0) -> Any:
        """`request(client)` with `retries` SDK retries; its errors as backend errors."""
        try:
            return request(self._client(max_retries=retries))
        except Exception as exc:
            raise wire.translate(exc, self.provider, self.poll_seconds) from None

    def _job(self, request: Any, retries: int = 0) -> dict[str, Any]:
        return wire.require_job(wire.as_dict(self._call(request, retries)), self.provider)
