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

from backends.base import BackendError, Event, NotReadyError
from backends.hosted.errors import (
    ProviderUnavailableError,
    RateLimitedError,
    ResponseShapeError,
    refusal,
    safe_error,
)
from backends.hosted.openai_wire import error_message, retry_after_of
from tuneui.core.secrets import api_key, key_hint, redact

PROVIDER = "Together AI"
KEY_NAME = "TOGETHER_API_KEY"


class TogetherHTTP:
    """One httpx client bound to the base URL and key. No retries of its own beyond connecting:
    a request that never left is always safe to send again, anything else is the caller's call."""

    def __init__(self, base_url: str, default_wait: float) -> None:
        key = api_key(KEY_NAME)
        if not key:
            raise NotReadyError(f"No {PROVIDER} API key", key_hint(KEY_NAME))
        self.default_wait = default_wait
        self.client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(120.0, connect=10.0),
            transport=httpx.HTTPTransport(retries=2),
        )

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

    def download(self, path: str, params: Mapping[str, Any], target: Path) -> None:
        """Stream a binary answer into `target` (written whole or not at all)."""
        partial = target.with_name(target.name + ".partial")
        try:
            with self.client.stream("GET", path, params=params) as response:
                self._raise_for(response, read=True)
                with open(partial, "wb") as handle:
                    for block in response.iter_bytes():
                        handle.write(block)
                    # On disk before the rename: a crash must not leave a renamed, empty archive.
                    handle.flush()
                    os.fsync(handle.fileno())
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            raise _unavailable(exc) from None
        partial.replace(target)

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


def _unavailable(exc: httpx.HTTPError) -> BackendError:
    return safe_error(f"{PROVIDER} did not answer: {type(exc).__name__}: {exc}", "", ProviderUnavailableError)


def rows_of(payload: Any, what: str) -> list[Mapping[str, Any]]:
    """The list in a `{"data": [...]}` answer, or the answer itself when it is a list."""
    rows = payload.get("data") if isinstance(payload, Mapping) else payload
    if not isinstance(rows, list):
        raise safe_error(f"{PROVIDER} returned {what} that is not a list", "Check `[together] base_url`.", ResponseShapeError)
    return [row for row in rows if isinstance(row, Mapping)]


def normalize_events(raw_events: list[Mapping[str, Any]]) -> list[Event]:
    """Together's job events, oldest first. They carry no id, so one is made from their content."""
    events = []
    for raw in sorted(raw_events, key=lambda e: str(e.get("created_at") or "")):
        kind = str(raw.get("type") or "message")
        when = _timestamp(raw.get("created_at"))
        # A digest, not the text itself: the id is written to events.jsonl, and the raw message
        # could echo a secret that redact() strips from the message only.
        content = f"{raw.get('created_at')}|{kind}|{raw.get('step')}|{raw.get('message')}"
        event_id = str(raw.get("hash") or hashlib.sha256(content.encode("utf-8")).hexdigest()[:32])
        if kind == "checkpoint_save":
            data = {"step": raw.get("step"), "path": raw.get("checkpoint_path"), "message": redact(str(raw.get("message") or ""))}
            events.append(Event("checkpoint", data, when, id=event_id))
            continue
        level = str(raw.get("level") or ("error" if kind == "job_error" else "info"))
        events.append(Event("log", {"level": level, "message": redact(str(raw.get("message") or "")), "kind": kind}, when, id=event_id))
    return events


def normalize_metrics(rows: list[Mapping[str, Any]], total_steps: int | None) -> list[Event]:
    """`GET /fine-tunes/{id}/metrics` rows: train rows hold `train/*` keys, eval rows `eval/*`."""
    events = []
    for row in rows:
        step = row.get("train/global_step", row.get("eval/global_step"))
        if not isinstance(step, (int, float)):
            continue
        step = int(step)
        when = float(row.get("timestamp") or 0) / 1e9 or time.time()
        extra = {"total_steps": total_steps} if total_steps else {}
        if "train/loss" in row:
            events.append(Event("metrics", {"step": step, "train_loss": row["train/loss"], **extra}, when, id=f"train:{step}"))
        if "eval/loss" in row:
            events.append(Event("metrics", {"step": step, "valid_loss": row["eval/loss"], **extra}, when, id=f"eval:{step}"))
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
    if isinstance(value, (int, float)):
        return float(value)
    try:
        import datetime as dt

        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()
