"""The Backend protocol, its frozen dataclasses and its error root.

Every backend is "a job you start and then follow": hosted jobs take hours and local jobs run in a
detached process, so a job is addressed by its *run id*, the name of its folder under `runs/`.
That folder is the only handle that survives the process that started the job; the provider's own
job id (`ftjob-...`, or the local worker's pid) is recorded in it (`status.json: job_id`).
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Iterator, Literal, Mapping, Sequence

EventType = Literal["status", "metrics", "log", "checkpoint"]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})

Message = Mapping[str, Any]  # an OpenAI chat message: {"role", "content", ...}
Conversation = Sequence[Message]


class BackendError(Exception):
    """Root of every error a backend raises: a `title` for the UI and a `hint` the user can act on.

    Messages must never contain secrets: hosted backends pass their text through `redact()`.
    """

    def __init__(self, title: str, hint: str = "") -> None:
        super().__init__(title)
        self.title = title
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.title}\n  hint: {self.hint}" if self.hint else self.title


class NotReadyError(BackendError):
    """`check()` said no: missing GPU, key, eligibility, or the base model is shut down."""


class JobNotFoundError(BackendError):
    """No run folder, or the provider does not know the job."""


@dataclass(frozen=True)
class TrainSpec:
    """What the user asked for. Saved as `spec.json`; never holds a secret."""

    run_id: str
    backend: str
    model: str
    train_file: str
    val_file: str | None = None
    epochs: int | None = None
    steps: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    max_length: int = 2048
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("all-linear",)
    eval_every: int | None = None
    save_every: int | None = None
    early_stopping_patience: int | None = 3
    seed: int = 0
    suffix: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lora_targets"] = list(self.lora_targets)
        data["options"] = dict(self.options)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainSpec":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "lora_targets" in values:
            values["lora_targets"] = tuple(values["lora_targets"])
        return cls(**values)


@dataclass(frozen=True)
class Event:
    """One normalized event. `seq` is its 0-based position in events.jsonl; `id` the provider's id."""

    type: EventType
    data: Mapping[str, Any]
    time: float
    seq: int = -1
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "time": self.time, "data": dict(self.data)}
        if self.id is not None:
            out["id"] = self.id
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], seq: int = -1) -> "Event":
        return cls(type=data["type"], data=data.get("data", {}), time=data.get("time", 0.0), seq=seq, id=data.get("id"))


@dataclass(frozen=True)
class ModelRef:
    """Where a model is and how to call it: a base model, a local adapter, or a hosted model id."""

    backend: str
    base_model: str
    kind: Literal["base", "adapter", "hosted"] = "base"
    path: str | None = None
    model_id: str | None = None

    @property
    def label(self) -> str:
        return self.model_id or self.path or self.base_model

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelRef":
        return cls(**{k: v for k, v in data.items() if k in {f.name for f in fields(cls)}})


@dataclass(frozen=True)
class Readiness:
    """Can this backend run here and now? `reasons` say why not; `notes` are warnings (dates...)."""

    ok: bool
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    device: str | None = None


@dataclass(frozen=True)
class Estimate:
    """What a run will cost. Fields a backend cannot know stay None."""

    backend: str
    model: str
    billed_tokens: int | None = None
    cost_usd: float | None = None
    memory_gib: float | None = None
    fits: bool | None = None
    hours: float | None = None
    warnings: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()
    # Loop guard: no n-gram of this size appears twice within one answer (0 = off). The prompt is
    # not counted, so a sign-off the prompt shows can still be written once. Local models only.
    no_repeat_ngram_size: int = 0


@dataclass(frozen=True)
class JobStatus:
    """The summary `tuneui status RUN --json` prints (its keys are an exact interface)."""

    run_id: str
    backend: str
    status: JobState
    job_id: str | None = None
    model_ref: ModelRef | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    detail: str | None = None  # the provider's own status word when it is not one of ours
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "backend": self.backend,
            "status": self.status,
            "job_id": self.job_id,
            "model_ref": self.model_ref.label if self.model_ref else None,
            "metrics": dict(self.metrics),
        }


class Backend(abc.ABC):
    """A place to train and run models. Optional abilities are class flags, never probes."""

    name: ClassVar[str]
    hosted: ClassVar[bool] = False
    supports_pause: ClassVar[bool] = False
    supports_resume: ClassVar[bool] = False
    supports_streaming: ClassVar[bool] = False
    # How often a follower (`train --wait`, the UI) polls `events()`/`status()`; hosted backends
    # set it per instance from `[hosted] poll_seconds` / TUNEUI_POLL_SECONDS.
    poll_seconds: float = 1.0

    @abc.abstractmethod
    def check(self, model: str | None = None) -> Readiness: ...

    @abc.abstractmethod
    def estimate(self, spec: TrainSpec, stats: Mapping[str, Any]) -> Estimate: ...

    @abc.abstractmethod
    def start(self, spec: TrainSpec) -> str:
        """Start the job without waiting for it; persist its id in the run folder, return it."""

    @abc.abstractmethod
    def events(self, run_id: str, after: int = 0) -> list[Event]:
        """Events with seq >= `after`, fetching new ones from the provider first where hosted."""

    @abc.abstractmethod
    def status(self, run_id: str) -> JobStatus: ...

    @abc.abstractmethod
    def cancel(self, run_id: str) -> None: ...

    @abc.abstractmethod
    def result(self, run_id: str) -> ModelRef: ...

    @abc.abstractmethod
    def generate(
        self, model: ModelRef, conversations: Sequence[Conversation], params: GenerationParams = GenerationParams()
    ) -> list[str]:
        """One completion per conversation (the assistant's reply to its last message)."""

    def require_callable(self, model: ModelRef) -> None:
        """Raise a BackendError, before any request, when `model` cannot be called as it stands
        (an Azure model without a deployment); steps call it before spending on a baseline."""

    def complete(
        self, model: ModelRef, conversations: Sequence[Conversation], params: GenerationParams = GenerationParams()
    ) -> tuple[list[str], list[bool | None]]:
        """Completions, and for each whether it ended on its own (True) or at the token cap (False);
        None where the backend cannot tell."""
        completions = self.generate(model, conversations, params)
        return completions, [None] * len(completions)

    def stream(
        self, model: ModelRef, conversation: Conversation, params: GenerationParams = GenerationParams()
    ) -> Iterator[str]:
        """Text chunks of one reply; backends with `supports_streaming` override this."""
        yield self.generate(model, [conversation], params)[0]

    def pause(self, run_id: str) -> None:
        raise BackendError(f"The {self.name} backend cannot pause a job", "Cancel it instead, or let it finish.")

    def resume(self, run_id: str) -> str:
        raise BackendError(f"The {self.name} backend cannot resume a job", "Start a new run.")
