"""What every hosted backend shares: the run folder as the job's memory, and polite following.

A hosted job lives on the provider; the run folder remembers everything needed to find it again
(uploaded file ids, the job id, the last status, the events already seen). `events()` and
`status()` fetch news from the provider at most once per poll interval, and never before a
rate limit's retry-after has passed, so any number of followers can reattach at any time.
"""

from __future__ import annotations

import abc
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

from tuneui.core import locations
from tuneui.core.backend import (
    Backend,
    BackendError,
    Conversation,
    Estimate,
    Event,
    JobNotFoundError,
    GenerationParams,
    JobStatus,
    ModelRef,
    TrainSpec,
)
from backends.hosted.backoff import ATTEMPTS, backoff_seconds, transient
from backends.hosted.errors import (
    ProviderUnavailableError,
    RateLimitedError,
    UnconfirmedJobError,
    provider_data,
    provider_text,
    provider_time,
    provider_word,
    safe_error,
)
from backends.runs import RunFolder
from tuneui.core.files import atomic_write_json

DEFAULT_POLL_SECONDS = 30.0
# Completions in flight at once for evaluation: hosted APIs answer each in about a second, and the
# SDK/httpx clients are thread-safe. Rate limits still apply: 429s are retried per request.
GENERATE_CONCURRENCY = 8


MAX_POLL_SECONDS = 3600.0  # the bound of [hosted] poll_seconds


def poll_seconds_for(workspace: Any) -> float:
    """TUNEUI_POLL_SECONDS, else `[hosted] poll_seconds` of the workspace, else 30 s."""
    raw = locations.poll_seconds_override()
    if raw:
        try:
            value = float(raw)
        except ValueError:
            raise BackendError(
                f"TUNEUI_POLL_SECONDS={raw!r} is not a number", "Set it to seconds, e.g. TUNEUI_POLL_SECONDS=30."
            ) from None
        if not 0 < value <= MAX_POLL_SECONDS:  # nan and inf too: time.sleep refuses both, mid-run
            raise BackendError(
                f"TUNEUI_POLL_SECONDS={raw!r} is out of range", f"Set it to seconds above 0 and at most {MAX_POLL_SECONDS:g}, e.g. 30."
            )
        return value
    if workspace is not None and workspace.exists():
        return float(workspace.settings().hosted.poll_seconds)
    return DEFAULT_POLL_SECONDS


class HostedBackend(Backend):
    """A provider's fine-tuning API behind the Backend interface; subclasses talk HTTP."""

    hosted = True
    provider: ClassVar[str]  # the provider's name for people: "OpenAI"
    # Provider status word -> ours. A word not listed is shown as it is and following goes on.
    status_map: ClassVar[Mapping[str, str]]
    # The chat request field that caps a reply's length (OpenAI renamed it; others keep the old name).
    max_tokens_field: ClassVar[str] = "max_tokens"

    def __init__(self, workspace: Any) -> None:
        self.workspace = workspace
        self.poll_seconds = poll_seconds_for(workspace)
        self._fetched_at: dict[str, float] = {}

    # -- the part each provider writes -------------------------------------------------------

    @abc.abstractmethod
    def _connect(self) -> None:
        """Make the client (which checks the key): before a run folder exists for a job that cannot start."""

    @abc.abstractmethod
    def _upload(self, path: Path, content: bytes) -> str:
        """Upload one JSONL file for fine-tuning; return the provider's file id."""

    @abc.abstractmethod
    def _post_job(self, spec: TrainSpec, files: dict[str, str]) -> dict[str, Any]:
        """Send the one request that creates the job (no retries of its own); return the job."""

    @abc.abstractmethod
    def _find_job(self, folder: RunFolder, files: dict[str, str]) -> dict[str, Any] | None:
        """The job an earlier, interrupted or unanswered, create request made for this run, found
        by a key no other run has (`files`: this run's uploaded file ids); None if there is none."""

    def _create_once(self, folder: RunFolder, spec: TrainSpec, files: dict[str, str]) -> dict[str, Any]:
        """Create the job, or find the one an interrupted earlier attempt created; return it.

        A create request is never repeated blindly: after a timeout, a dropped connection or a
        5xx the provider may have made the job anyway, so it is looked for before trying again."""
        interrupted_before = bool(folder.read_status().get("create_requested_at"))
        folder.write_status(create_requested_at=time.time())
        last: BackendError | None = None
        for attempt in range(ATTEMPTS):
            if attempt or interrupted_before:
                found = self._look_for_job(folder, files)
                if found is not None:
                    return found
            try:
                return self._post_job(spec, files)
            except BackendError as error:
                if not transient(error):
                    raise
                last = error
                time.sleep(backoff_seconds(attempt, error))
        found = self._look_for_job(folder, files)
        if found is not None:
            return found
        raise safe_error(
            f"{self.provider} could not create the job after {ATTEMPTS} tries: {last.title if last else ''}",
            "Nothing was created. Run the same `tuneui train` again later.",
            ProviderUnavailableError,
        )

    def _look_for_job(self, folder: RunFolder, files: dict[str, str]) -> dict[str, Any] | None:
        """The lookup after an unanswered create, repeated like any safe request; when the provider
        still cannot be asked, the job may exist: `UnconfirmedJobError`, and the run is kept."""
        try:
            return self._with_retries(lambda: self._find_job(folder, files))
        except BackendError as error:
            if not transient(error):
                raise
            raise safe_error(
                f"{self.provider} may have made the job but could not be asked yet: {error.title}",
                f"`tuneui status {folder.run_id}` looks for it again (a second job is never made).",
                UnconfirmedJobError,
            ) from None

    def _with_retries(self, request: Any) -> Any:
        """`request()`, tried again after transient failures; only for requests safe to repeat."""
        for attempt in range(ATTEMPTS - 1):
            try:
                return request()
            except BackendError as error:
                if not transient(error):
                    raise
                time.sleep(backoff_seconds(attempt, error))
        return request()

    @abc.abstractmethod
    def _fetch(self, folder: RunFolder, status: dict[str, Any]) -> None:
        """Bring the run folder up to date with the provider (events, status, result)."""

    @abc.abstractmethod
    def _complete(self, model: ModelRef, conversation: Conversation, params: GenerationParams) -> str:
        """The assistant's reply to one conversation (one chat completion request)."""

    def _submit(self, folder: RunFolder, spec: TrainSpec) -> None:
        """Upload the data and create the job; record file ids and `job_id` in status.json."""
        files = dict(folder.read_status().get("files") or {})
        for role, path in (("train", spec.train_file), ("validation", spec.val_file)):
            if path and role not in files:
                try:
                    content = Path(path).read_bytes()
                except OSError as exc:
                    raise BackendError(
                        f"Cannot read {path}: {exc.strerror}", "Check the path; `tuneui data split` writes data/train.jsonl."
                    ) from None
                files[role] = self._upload(Path(path), content)
                # Persisted before the next call: a crash after this line never re-uploads.
                folder.write_status(files=files)
        job = self._create_once(folder, spec, files)
        self._append(folder, self._apply_status(folder, str(job["status"]), job_id=job["id"]))

    # -- the Backend interface -----------------------------------------------------------------

    def estimate(self, spec: TrainSpec, stats: Mapping[str, Any]) -> Estimate:
        """The bill, from `tuneui.core.cost`. `stats["train_tokens"]`: exact tokens per training
        example (counted from `spec.train_file` when absent); `stats["validation"]`: the
        evaluation's `EvalTokens`, to price the evaluation too."""
        from tuneui.core.cost import hosted_estimate, load_prices
        from tuneui.errors import TuneError

        try:
            train_tokens = stats.get("train_tokens")
            if train_tokens is None:
                train_tokens = _count_train_tokens(spec)
            settings = self.workspace.settings() if self.workspace is not None and self.workspace.exists() else None
            prices = load_prices(settings.prices if settings is not None else None)
            bill = hosted_estimate(
                self.name, spec.model, train_tokens, epochs=spec.epochs, validation=stats.get("validation"), prices=prices
            )
        except TuneError as exc:
            raise BackendError(exc.title, exc.hint) from None
        return bill.to_estimate()

    def start(self, spec: TrainSpec) -> str:
        """Create the job (once, whatever happens) and return the run id that addresses it."""
        if spec.backend != self.name:
            spec = TrainSpec.from_dict({**spec.to_dict(), "backend": self.name})
        self._connect()
        folder = self._create_or_open(spec)
        if folder.read_status().get("job_id"):
            return folder.run_id
        try:
            self._submit(folder, spec)
        except UnconfirmedJobError as exc:
            folder.write_status(create_unconfirmed=True, detail=exc.title)
            raise
        except BackendError as exc:
            if not folder.read_status().get("job_id"):
                # Nothing runs on the provider: say so in the run folder, or `runs` shows it queued forever.
                folder.write_status(status="failed", error=exc.title)
            raise
        return folder.run_id

    def _chat_request(self, model: ModelRef, conversation: Conversation, params: GenerationParams) -> dict[str, Any]:
        """The chat completions body every OpenAI-compatible provider accepts."""
        request: dict[str, Any] = {
            "model": model.model_id or model.base_model,
            "messages": [dict(message) for message in conversation],
            self.max_tokens_field: params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
        }
        if params.stop:
            request["stop"] = list(params.stop)
        return request

    def generate(
        self, model: ModelRef, conversations: Sequence[Conversation], params: GenerationParams = GenerationParams()
    ) -> list[str]:
        """One reply per conversation, in order, with up to GENERATE_CONCURRENCY requests in flight."""
        self._connect()  # one client, made before the threads share it
        if len(conversations) <= 1:
            return [self._complete(model, conversation, params) for conversation in conversations]
        with ThreadPoolExecutor(max_workers=min(GENERATE_CONCURRENCY, len(conversations))) as pool:
            return list(pool.map(lambda conversation: self._complete(model, conversation, params), conversations))

    def events(self, run_id: str, after: int = 0) -> list[Event]:
        folder = self._folder(run_id)
        self._refresh(folder)
        return folder.read_events(after)

    def status(self, run_id: str) -> JobStatus:
        folder = self._folder(run_id)
        self._refresh(folder)
        return folder.job_status()

    def result(self, run_id: str) -> ModelRef:
        folder = self._folder(run_id)
        self._refresh(folder, force=True)
        ref = folder.model_ref()
        if ref is None:
            state = folder.read_status().get("status", "queued")
            raise BackendError(f"Run {run_id} has no model yet (status: {state})", "Wait for it to succeed: `tuneui status RUN`.")
        return ref

    # -- shared machinery ----------------------------------------------------------------------

    def _folder(self, run_id: str) -> RunFolder:
        return RunFolder.open(self.workspace.runs_dir, run_id)

    def _create_or_open(self, spec: TrainSpec) -> RunFolder:
        # The CLI may have made the folder already; a second `start` of one run resumes, never duplicates.
        path = self.workspace.runs_dir / spec.run_id
        if (path / "spec.json").is_file():
            return RunFolder(path)
        return RunFolder.create(self.workspace.runs_dir, spec)

    def _job_id(self, folder: RunFolder) -> str:
        job_id = folder.read_status().get("job_id")
        if not job_id:
            raise JobNotFoundError(f"Run {folder.run_id} has no {self.provider} job yet", "Start it with `tuneui train`.")
        return job_id

    def _refresh(self, folder: RunFolder, force: bool = False) -> None:
        status = folder.read_status()
        if not status.get("job_id") and status.get("create_unconfirmed"):
            self._confirm(folder, status)
            status = folder.read_status()
        if not status.get("job_id") or status.get("follow_done"):
            return
        now = time.time()
        if now < float(status.get("poll_not_before") or 0):
            return
        # `train --wait` calls events() then status() each cycle: one fetch serves both.
        if not force and now - self._fetched_at.get(folder.run_id, 0.0) < self.poll_seconds / 2:
            return
        self._fetched_at[folder.run_id] = now
        try:
            self._fetch(folder, status)
        except RateLimitedError as exc:
            wait = max(exc.retry_after, self.poll_seconds)
            folder.write_status(poll_not_before=now + wait, detail=f"rate limited; next poll in {wait:.0f} s")
        except ProviderUnavailableError as exc:
            folder.write_status(detail=f"{self.provider} unreachable, retrying: {exc.title}")

    def _confirm(self, folder: RunFolder, status: dict[str, Any]) -> None:
        """Find the job an unconfirmed create may have made: then follow it; none: the run failed."""
        try:
            self._connect()
            found = self._find_job(folder, dict(status.get("files") or {}))
        except (RateLimitedError, ProviderUnavailableError) as exc:
            folder.write_status(detail=f"{self.provider} could not be asked yet whether the job exists: {exc.title}")
            return
        if found is None:
            folder.write_status(status="failed", create_unconfirmed=None, error=f"{self.provider} did not make the job; nothing runs. Run `tuneui train` again.")
            return
        folder.write_status(create_unconfirmed=None)
        self._append(folder, self._apply_status(folder, str(found["status"]), job_id=found["id"]))

    def _apply_status(self, folder: RunFolder, provider_status: str, **extra: Any) -> list[Event]:
        """Record the provider's status word; return the status/log events its change implies.
        The word and any text in `extra` come from the provider: redacted before they are kept."""
        provider_status = provider_word(provider_status)
        extra = {key: provider_text(value) if isinstance(value, str) else value for key, value in extra.items()}
        status = folder.read_status()
        previous = status.get("provider_status")
        ours = self.status_map.get(provider_status)
        changes: dict[str, Any] = {"provider_status": provider_status, **extra}
        changes["status"] = ours or status.get("status", "queued")
        changes["detail"] = None if ours == provider_status else provider_status
        changes["poll_not_before"] = None
        # Most polls change nothing: skip the write (and its fsyncs) then.
        if any(status.get(key) != value for key, value in changes.items()):
            folder.write_status(**changes)
        if previous == provider_status:
            return []
        now = time.time()
        data = {"status": changes["status"], "provider_status": provider_status}
        events = [Event("status", data, now, id=f"status:{previous}->{provider_status}")]
        if ours is None:
            message = f"{self.provider} reports status {provider_status!r}, which tuneui does not know; following goes on."
            events.append(Event("log", {"level": "warn", "message": message}, now, id=f"unknown-status:{provider_status}"))
        return events

    @staticmethod
    def _append(folder: RunFolder, events: list[Event]) -> None:
        """Store events; everything in them that a provider wrote is redacted and typed first."""
        if events:
            folder.append_events([_clean_event(event) for event in events])

    def _finish(self, folder: RunFolder, ref: ModelRef, details: Mapping[str, Any]) -> None:
        """Persist the trained model: `model.json` for people and tools, `model_ref` for `status`."""
        ref = ModelRef.from_dict(provider_data(ref.to_dict()))
        atomic_write_json(folder.model_json, {**ref.to_dict(), **provider_data(dict(details))})
        folder.write_status(model_ref=ref.to_dict())


def _clean_event(event: Event) -> Event:
    when = provider_time(event.time) or time.time()
    event_id = provider_word(event.id) if event.id is not None else None
    return Event(event.type, provider_data(dict(event.data)), when, id=event_id)


def _count_train_tokens(spec: TrainSpec) -> list[int]:
    from tuneui.core.dataset.loader import read_chat_jsonl
    from tuneui.core.tokens import count_examples, encoding_for_model

    examples = read_chat_jsonl(spec.train_file)
    return count_examples([example.messages for example in examples], encoding_for_model(spec.model))
