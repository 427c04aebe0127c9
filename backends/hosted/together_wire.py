"""The Together AI side of the wire, over httpx: requests, errors, and event/metric normalization.

API (https://docs.together.ai/reference): `POST /files/upload` (multipart), `POST /fine-tunes`,
`GET /fine-tunes[/{id}[/events|/metrics|/checkpoints]]`, `POST /fine-tunes/{id}/cancel`,
`GET /finetune/download?ft_id=..&checkpoint=adapter`, `POST /chat/completions`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

import httpx

from tuneui.core.backend import BackendError, Event, NotReadyError
from backends.hosted.archive import ArchiveError
from backends.hosted.http import api_client
from backends.hosted.errors import (
    ProviderUnavailableError,
    RateLimitedError,
    ResponseShapeError,
    provider_number,
    provider_text,
    provider_word,
    refusal,
    safe_error,
)
from backends.hosted.openai_wire import error_message, retry_after_of
from tuneui.core.secrets import api_key, key_hint

PROVIDER = "Together AI"
KEY_NAME = "TOGETHER_API_KEY"
MAX_REDIRECTS = 5


class TogetherHTTP:
    """One httpx client bound to the base URL and key. No retries of its own beyond connecting:
    a request that never left is always safe to send again, anything else is the caller's call."""

    def __init__(self, base_url: str, default_wait: float) -> None:
        key = api_key(KEY_NAME)
        if not key:
            raise NotReadyError(f"No {PROVIDER} API key", key_hint(KEY_NAME))
        self.default_wait = default_wait
        self.client = api_client(base_url, key)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise safe_error(
                f"{PROVIDER} answered {method} /{path} with something that is not JSON",
                "Check `[together] base_url`.",
                ResponseShapeError,
            ) from None

    def download(self, path: str, params: Mapping[str, Any], target: Path, max_bytes: int) -> None:
        """Stream a binary answer into `target` (written whole or not at all), at most `max_bytes`.

        Together answers with a redirect to a presigned storage URL. The redirect is followed by
        hand with a client that carries no Authorization header: the key never reaches another host.
        """
        partial = target.with_name(target.name + ".partial")
        try:
            with self.client.stream("GET", path, params=params) as response:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    with httpx.Client(timeout=self.client.timeout, follow_redirects=True, max_redirects=MAX_REDIRECTS) as bare:
                        with bare.stream("GET", response.url.join(location)) as redirected:
                            self._save(redirected, partial, max_bytes)
                else:
                    self._save(response, partial, max_bytes)
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            raise _unavailable(exc) from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)

    def _save(self, response: httpx.Response, partial: Path, max_bytes: int) -> None:
        self._raise_for(response, read=True)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(max_bytes)
        written = 0
        with open(partial, "wb") as handle:
            for block in response.iter_bytes():  # decoded bytes are counted: a gzip transfer cannot slip past
                written += len(block)
                if written > max_bytes:
                    raise _too_large(max_bytes)
                handle.write(block)
            # On disk before the rename: a crash must not leave a renamed, empty archive.
            handle.flush()
            os.fsync(handle.fileno())
        if written == 0:
            raise safe_error(f"{PROVIDER} sent an empty adapter download", "Retry later with `tuneui train --resume RUN`.", ArchiveError)

    def stream_lines(self, path: str, body: Mapping[str, Any]) -> Iterator[str]:
        try:
            with self.client.stream("POST", path, json=dict(body)) as response:
                self._raise_for(response, read=True)
                yield from response.iter_lines()
        except httpx.HTTPError as exc:
            raise _unavailable(exc) from None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise _unavailable(exc) from None
        self._raise_for(response)
        return response

    def _raise_for(self, response: httpx.Response, read: bool = False) -> None:
        if response.status_code < 400:
            return
        if read:
            response.read()
        if response.status_code == 429:
            raise RateLimitedError(PROVIDER, retry_after_of(response.headers, self.default_wait))
        try:
            message = error_message(response.json()) or response.text
        except ValueError:
            message = response.text
        if response.status_code >= 500:
            title = f"{PROVIDER} had an internal error (HTTP {response.status_code}): {message[:300]}"
            raise safe_error(title, "", ProviderUnavailableError)
        raise refusal(PROVIDER, message[:500], response.status_code)


def _too_large(max_bytes: int) -> BackendError:
    return ArchiveError(
        f"The adapter download is larger than {max_bytes / 1024**3:.1f} GiB",
        "Raise `[hosted] adapter_max_gib` in tuneui.toml if the adapter is really that large.",
    )


def _unavailable(exc: httpx.HTTPError) -> BackendError:
    return safe_error(f"{PROVIDER} did not answer: {type(exc).__name__}: {exc}", "", ProviderUnavailableError)


def rows_of(payload: Any, what: str) -> list[Mapping[str, Any]]:
    """The list in a `{"data": [...]}` answer, or the answer itself when it is a list."""
    rows = payload.get("data") if isinstance(payload, Mapping) else payload
    if not isinstance(rows, list):
        raise safe_error(f"{PROVIDER} returned {what} that is not a list", "Check `[together] base_url`.", ResponseShapeError)
    return [row for row in rows if isinstance(row, Mapping)]


def job_word(value: Any, what: str) -> str:
    """An identifier the provider gave (job id, file id, output model name), used in later URLs and
    requests: it must be a plain identifier, or it is refused rather than redacted into another."""
    word = provider_word(value) if isinstance(value, str) else ""
    if not word or word != value:
        raise safe_error(f"{PROVIDER} returned a {what} that is not an identifier: {str(value)[:80]!r}",
                         "Check `[together] base_url`.", ResponseShapeError)  # fmt: skip
    return word


def count(value: Any) -> int:
    """A non-negative count the provider sent (total_steps...), 0 when it is not one."""
    number = provider_number(value)
    return int(number) if number is not None and number >= 0 else 0


def supported_models(payload: Any) -> set[str]:
    """`GET /fine-tunes/models/supported`: `{"models": [names]}`."""
    models = payload.get("models") if isinstance(payload, Mapping) else None
    if not isinstance(models, list):
        raise safe_error(f"{PROVIDER} returned a supported-model list without 'models'", "Check `[together] base_url`.", ResponseShapeError)
    return {name for name in models if isinstance(name, str)}


def lora_limits(model: str, limits: Any) -> tuple[str | None, str | None]:
    """(reason, note) from `GET /fine-tunes/models/limits` for `model`: LoRA must be offered."""
    lora = limits.get("lora_training") if isinstance(limits, Mapping) else None
    if not isinstance(lora, Mapping):
        return f"{PROVIDER} offers no LoRA fine-tuning of {model} (only full fine-tuning).", None
    rank, epochs = count(lora.get("max_rank")), count(limits.get("max_num_epochs"))
    return None, f"{model}: LoRA rank up to {rank}, at most {epochs} epochs."


# Event types that carry the reason a job failed. The spec writes types in lower case, the SDKs'
# validators in upper case (JOB_ERROR, JOB_USER_ERROR): both are read, as lower case.
FAILURE_KINDS = frozenset({"job_error", "job_user_error"})
_LEVELS = {"error": "error", "warning": "warn", "warn": "warn", "legacy_iwarning": "warn", "legacy_ierror": "error"}


def cheapest_hardware(rows: list[Mapping[str, Any]]) -> tuple[float, str] | None:
    """(cents per minute, hardware id) of the cheapest `GET /hardware?model=` row that is
    available (or says nothing of availability); None when none is priced."""
    priced = []
    for row in rows:
        pricing, availability = row.get("pricing"), row.get("availability")
        cents = provider_number(pricing.get("cents_per_minute")) if isinstance(pricing, Mapping) else None
        status = availability.get("status", "available") if isinstance(availability, Mapping) else "available"
        if cents is not None and cents > 0 and status == "available":
            priced.append((cents, provider_word(row.get("id") or "?")))
    return min(priced) if priced else None


def normalize_events(raw_events: list[Mapping[str, Any]]) -> list[Event]:
    """Together's job events, oldest first. Every field is the provider's: typed and redacted here
    (and again when stored); the id is the event's `hash`, or a digest of its content."""
    events = []
    for raw in sorted(raw_events, key=lambda e: str(e.get("created_at") or "")):
        kind = provider_word(raw.get("type") or "message").lower()
        when = _timestamp(raw.get("created_at"))
        step = count(raw.get("step")) or None
        message = provider_text(raw.get("message") or "")
        # A digest, not the text itself: the id is written to events.jsonl, and the raw message
        # could echo a secret that redact() strips from the message only.
        content = f"{raw.get('created_at')}|{kind}|{raw.get('step')}|{raw.get('message')}"
        given = raw.get("hash")
        event_id = provider_word(given) if isinstance(given, str) and given else hashlib.sha256(content.encode()).hexdigest()[:32]
        if kind == "checkpoint_save":
            data = {"step": step, "path": provider_text(raw.get("checkpoint_path") or "", 500), "message": message}
            events.append(Event("checkpoint", data, when, id=event_id))
            continue
        level = _LEVELS.get(str(raw.get("level") or "").lower(), "error" if kind in FAILURE_KINDS else "info")
        events.append(Event("log", {"level": level, "message": message, "kind": kind}, when, id=event_id))
    return events


def normalize_metrics(rows: list[Mapping[str, Any]], total_steps: int | None) -> list[Event]:
    """`GET /fine-tunes/{id}/metrics` rows: train rows hold `train/*` keys, eval rows `eval/*`.
    Values that are not finite numbers are dropped: a loss is a number or it is nothing."""
    events = []
    for row in rows:
        step = provider_number(row.get("train/global_step", row.get("eval/global_step")))
        if step is None:
            continue
        step = int(step)
        when = (provider_number(row.get("timestamp")) or 0) / 1e9 or time.time()
        extra = {"total_steps": total_steps} if total_steps else {}
        for source, name, prefix in (("train/loss", "train_loss", "train"), ("eval/loss", "valid_loss", "eval")):
            loss = provider_number(row.get(source))
            if loss is not None:
                events.append(Event("metrics", {"step": step, name: loss, **extra}, when, id=f"{prefix}:{step}"))
    return events


def sse_text(lines: Iterator[str]) -> Iterator[str]:
    """The text deltas of an OpenAI-style chat completion stream."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        chunk = json.loads(payload)
        for choice in chunk.get("choices") or []:
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield text


def _timestamp(value: Any) -> float:
    """An event's `created_at` (ISO 8601, or epoch seconds) as epoch seconds; now when neither."""
    number = provider_number(value)
    if number is not None:
        return number
    try:
        import datetime as dt

        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()
