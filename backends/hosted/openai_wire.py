"""The OpenAI side of the wire: building the SDK client, reading its errors, normalizing events.

Kept apart from `backends.openai_ft` so the backend reads as the job's story, and so this
module's translation rules can be tested on their own.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

from tuneui.core.backend import BackendError, Event, NotReadyError, TrainSpec
from backends.hosted.errors import (
    ProviderUnavailableError,
    RateLimitedError,
    provider_count,
    provider_number,
    provider_time,
    refusal,
    require,
    safe_error,
)
from tuneui.core.secrets import api_key, key_hint, redact

# The metric names OpenAI puts in a `metrics` event's data; kept as they are in events.jsonl.
METRIC_KEYS = (
    "step",
    "total_steps",
    "train_loss",
    "valid_loss",
    "full_valid_loss",
    "train_mean_token_accuracy",
    "valid_mean_token_accuracy",
    "full_valid_mean_token_accuracy",
)
REQUEST_TIMEOUT_S = 120.0


def make_client(settings: Any, provider: str, azure: bool = False) -> Any:
    """An OpenAI SDK client, or with `azure` an Azure OpenAI one (`[openai] azure_endpoint`).

    `OPENAI_BASE_URL` is read by the SDK itself, so any OpenAI-compatible endpoint works.
    """
    azure_endpoint = settings.openai.azure_endpoint if settings is not None else ""
    if not azure and azure_endpoint:
        # The Azure API differs (no job metadata, deployments): running OpenAI's rules against it
        # would create duplicate jobs and call models that cannot answer.
        raise NotReadyError(
            "[openai] azure_endpoint is set, so this project trains on Azure OpenAI",
            'Use `--backend azure` (or `hosted_backend = "azure"` under [models] in tuneui.toml), '
            "or remove azure_endpoint to use api.openai.com.",
        )
    key_name = "AZURE_OPENAI_API_KEY" if azure else "OPENAI_API_KEY"
    key = api_key(key_name)
    if not key:
        raise NotReadyError(f"No {provider} API key", key_hint(key_name))
    import openai  # ~2 s to import: only once there is a key to use it with

    if azure:
        if not settings.openai.api_version:
            raise NotReadyError(
                "Azure OpenAI needs an API version",
                "Set `api_version` under [openai] in tuneui.toml next to azure_endpoint.",
            )
        return openai.AzureOpenAI(
            azure_endpoint=azure_endpoint,
            api_version=settings.openai.api_version,
            api_key=key,
            timeout=REQUEST_TIMEOUT_S,
        )
    return openai.OpenAI(api_key=key, timeout=REQUEST_TIMEOUT_S)


class DeploymentNotFoundError(BackendError):
    """Azure answered 404 DeploymentNotFound: no deployment has the name a chat request used."""


def translate(exc: Exception, provider: str, default_wait: float) -> BackendError:
    """An SDK exception as the backend error a follower knows how to handle."""
    import openai

    if isinstance(exc, openai.RateLimitError):
        return RateLimitedError(provider, retry_after_of(exc.response.headers, default_wait))
    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
        return safe_error(f"{provider} did not answer: {exc.message}", "", ProviderUnavailableError)
    if isinstance(exc, openai.APIStatusError):
        message = error_message(exc.body) or exc.message
        if exc.status_code == 404 and error_code(exc.body) == "DeploymentNotFound":
            return safe_error(f"{provider} has no such deployment: {message}", "", DeploymentNotFoundError)
        if exc.status_code >= 500:
            return safe_error(f"{provider} had an internal error (HTTP {exc.status_code}): {message}", "", ProviderUnavailableError)
        return refusal(provider, message, exc.status_code)
    if isinstance(exc, BackendError):
        return exc
    return safe_error(f"{provider} client error: {exc}", "")


def is_transient(error: BackendError) -> bool:
    """Worth trying again: the request may or may not have reached the provider."""
    return isinstance(error, (ProviderUnavailableError, RateLimitedError))


def error_message(body: object) -> str | None:
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
    return None


def error_code(body: object) -> str | None:
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("code"):
            return str(inner["code"])
    return None


def retry_after_of(headers: Mapping[str, str], default: float) -> float:
    """Seconds to wait from `retry-after-ms` / `retry-after` (seconds, or an HTTP date)."""
    import email.utils

    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            return max(0.0, float(raw) * scale)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(raw) if name == "retry-after" else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - time.time())
    return default


def as_dict(obj: Any) -> dict[str, Any]:
    """An SDK model as the plain dict the server sent (fields it left out stay out)."""
    if hasattr(obj, "to_dict"):
        import pydantic  # loaded already, with the SDK

        # A field of an unexpected type ('created_at': 'yesterday') would make Pydantic warn on
        # stderr with the provider's value, unredacted; the wire rules here check every field instead.
        quiet = {} if pydantic.VERSION.startswith("1.") else {"warnings": False}
        return obj.to_dict(**quiet)
    require(obj, (), "response", "OpenAI")  # e.g. text where JSON was expected
    return dict(obj)


def normalize_event(raw: Mapping[str, Any], provider: str = "OpenAI") -> Event:
    """One `fine_tuning.job.event` as a tuneui event, keyed by OpenAI's event id. Numbers are the
    provider's to send wrong: a time that is no date is replaced by the time it arrived, a metric
    that is no number is dropped, and a metrics event without a step is kept as a log line."""
    require(dict(raw), ("id",), "fine-tuning event", provider)
    data = raw.get("data") if isinstance(raw.get("data"), Mapping) else {}
    when = provider_time(raw.get("created_at")) or time.time()
    if raw.get("type") == "metrics" and provider_count(data.get("step")) is not None:
        return Event("metrics", metric_values(data, METRIC_KEYS), when, id=str(raw["id"]))
    # Azure's word for a warning is "warning"; tuneui's (and OpenAI's) is "warn".
    level = str(raw.get("level") or "info")
    level = "warn" if level == "warning" else level
    return Event("log", {"level": level, "message": redact(str(raw.get("message", "")))}, when, id=str(raw["id"]))


def normalize_checkpoint(raw: Mapping[str, Any], provider: str = "OpenAI") -> Event:
    require(dict(raw), ("id", "step_number"), "fine-tuning checkpoint", provider)
    metrics = raw.get("metrics") if isinstance(raw.get("metrics"), Mapping) else {}
    data = {
        "step": provider_count(raw["step_number"]),
        "model_id": raw.get("fine_tuned_model_checkpoint"),
        "metrics": metric_values(metrics, tuple(metrics)),
    }
    return Event("checkpoint", data, provider_time(raw.get("created_at")) or time.time(), id=str(raw["id"]))


def metric_values(data: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The `keys` of `data` that hold finite numbers; steps as whole numbers."""
    values: dict[str, Any] = {}
    for key in keys:
        number = provider_count(data.get(key)) if key in ("step", "total_steps") else provider_number(data.get(key))
        if number is not None:
            values[str(key)] = number
    return values


def failure_text(job: Mapping[str, Any]) -> str | None:
    """The job's error object in words: 'message (code, param)'."""
    error = job.get("error")
    if not isinstance(error, Mapping) or not error.get("message"):
        return None
    extras = ", ".join(str(error[k]) for k in ("code", "param") if error.get(k))
    return redact(f"{error['message']} ({extras})" if extras else str(error["message"]))


def hyperparameters_of(spec: TrainSpec) -> dict[str, Any]:
    """Only the hyperparameters the user asked for: the provider picks the rest for the data's size."""
    hyperparameters: dict[str, Any] = {}
    if spec.epochs:
        hyperparameters["n_epochs"] = spec.epochs
    if spec.batch_size:
        hyperparameters["batch_size"] = spec.batch_size
    if spec.options.get("learning_rate_multiplier"):
        hyperparameters["learning_rate_multiplier"] = float(spec.options["learning_rate_multiplier"])
    return hyperparameters


def job_request(spec: TrainSpec, files: Mapping[str, str]) -> dict[str, Any]:
    """The body of `POST /fine_tuning/jobs`: the supervised method, only the hyperparameters asked for."""
    hyperparameters = hyperparameters_of(spec)
    request: dict[str, Any] = {
        "model": spec.model,
        "training_file": files["train"],
        "method": {"type": "supervised", "supervised": {"hyperparameters": hyperparameters}},
        "seed": spec.seed,
        "metadata": {"tuneui_run": spec.run_id},
    }
    if files.get("validation"):
        request["validation_file"] = files["validation"]
    if spec.suffix:
        request["suffix"] = spec.suffix[:64]
    return request


def require_job(job: dict[str, Any], provider: str = "OpenAI") -> dict[str, Any]:
    require(job, ("id", "status"), "fine-tuning job", provider)
    return job


def require_field(payload: dict[str, Any], key: str, what: str, provider: str = "OpenAI") -> Any:
    require(payload, (key,), what, provider)
    return payload[key]
