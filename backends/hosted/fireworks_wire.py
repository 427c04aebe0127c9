"""The Fireworks AI side of the wire, over httpx: its REST paths, errors, names and metric rows.

Checked against the official SDK's types, `fireworks-ai` 1.2.3 (fw-ai-external/python-sdk,
generated from Fireworks' OpenAPI description, "Gateway REST API"), and the API reference at
https://docs.fireworks.ai/api-reference (read 2026-12-07):

- `POST /v1/accounts/{a}/datasets` {datasetId, dataset: {userUploaded, exampleCount, format}},
  `POST .../datasets/{id}:upload` (multipart `file`), `GET .../datasets/{id}` (state READY);
- `POST /v1/accounts/{a}/supervisedFineTuningJobs?supervisedFineTuningJobId=ID` — the id is the
  caller's, so a create that went unanswered is found again by `GET .../supervisedFineTuningJobs/ID`;
- `POST .../supervisedFineTuningJobs/{id}:cancel` (firectl `supervised-fine-tuning-job cancel`;
  the SDK 1.2.3 has no method for it, the path is the one its reinforcement jobs use);
- `GET /v1/accounts/{a}/models/{id}` and `.../models/{id}:getDownloadEndpoint`
  ({filenameToSignedUrls}); `POST /inference/v1/chat/completions`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

import httpx

from tuneui.core.backend import BackendError, Event, NotReadyError
from backends.hosted.archive import ArchiveError, ArchiveLimits
from backends.hosted.http import api_client
from backends.hosted.errors import (
    ProviderUnavailableError,
    RateLimitedError,
    ResponseShapeError,
    provider_count,
    provider_number,
    refusal,
    safe_error,
)
from backends.hosted.openai_wire import retry_after_of
from tuneui.core.secrets import api_key, key_hint

PROVIDER = "Fireworks AI"
KEY_NAME = "FIREWORKS_API_KEY"
# A Fireworks resource id: lower-case letters, digits and hyphens, starting with a letter, at most 63.
_RESOURCE_ID = re.compile(r"[a-z][a-z0-9-]{0,62}")
# A metrics file holds a few rows per step: far below this for any real job; a bigger one is refused.
METRICS_MAX_BYTES = 64 * 2**20
_PLAIN_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

STATUS_MAP = {
    "JOB_STATE_CREATING": "queued",
    "JOB_STATE_PENDING": "queued",
    "JOB_STATE_VALIDATING": "queued",
    "JOB_STATE_CREATING_INPUT_DATASET": "queued",
    "JOB_STATE_RE_QUEUEING": "queued",
    "JOB_STATE_IDLE": "queued",
    "JOB_STATE_RUNNING": "running",
    "JOB_STATE_WRITING_RESULTS": "running",
    "JOB_STATE_CANCELLING": "running",
    "JOB_STATE_PAUSED": "running",
    "JOB_STATE_COMPLETED": "succeeded",
    "JOB_STATE_EARLY_STOPPED": "succeeded",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_EXPIRED": "failed",
    "JOB_STATE_CANCELLED": "cancelled",
}


def resource_id(run_id: str, role: str) -> str:
    """This run's own id for a dataset, job or model: chosen by tuneui, so never made twice."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", f"tuneui-{run_id}-{role}".lower()).strip("-")
    return cleaned[:63].rstrip("-")


def last_segment(name: Any, what: str) -> str:
    """`accounts/a/models/m` -> `m`, refused unless it is a plain resource id."""
    tail = str(name or "").rsplit("/", 1)[-1]
    if not _RESOURCE_ID.fullmatch(tail):
        raise safe_error(f"{PROVIDER} returned a {what} that is not a resource name: {str(name)[:80]!r}", "", ResponseShapeError)
    return tail


def metric_events(rows: list[Any], through: int) -> list[Event]:
    """Rows of the job's metrics file past step `through`, as tuneui metrics events. The file's
    layout is not published: a row is an object with a step (`step` / `global_step`) and losses
    (`train_loss` / `loss`, `eval_loss` / `valid_loss`); anything else is left out."""
    events = []
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        step = provider_count(row.get("step", row.get("global_step")))
        if step is None or step <= through:
            continue
        data: dict[str, Any] = {"step": step}
        for ours, theirs in (("train_loss", ("train_loss", "loss")), ("valid_loss", ("eval_loss", "valid_loss"))):
            value = next((provider_number(row[key]) for key in theirs if key in row), None)
            if value is not None:
                data[ours] = value
        if len(data) > 1:
            events.append(Event("metrics", data, 0.0, id=f"metrics:{step}:{'+'.join(sorted(data))}"))
    return events


class FireworksHTTP:
    """One httpx client bound to the control plane and the key; signed URLs are fetched with a
    bare client, so the key never reaches the storage host."""

    def __init__(self, base_url: str, account: str, default_wait: float) -> None:
        key = api_key(KEY_NAME)
        if not key:
            raise NotReadyError(f"No {PROVIDER} API key", key_hint(KEY_NAME))
        if not _RESOURCE_ID.fullmatch(account or ""):
            raise NotReadyError(f"No {PROVIDER} account id", 'Set `[fireworks] account_id = "<your account id>"` in tuneui.toml.')
        self.account = account
        self.default_wait = default_wait
        self.client = api_client(base_url, key)

    def of_account(self, path: str) -> str:
        return f"v1/accounts/{self.account}/{path}"

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise _unavailable(exc) from None
        raise_for(response, self.default_wait)
        try:
            return response.json()
        except ValueError:
            raise safe_error(f"{PROVIDER} answered {method} /{path} with something that is not JSON", "Check `[fireworks] base_url`.", ResponseShapeError) from None

    def signed_json_lines(self, url: str) -> list[Any]:
        """A JSONL file at a signed URL (the job's metrics), fetched without the key."""
        import json

        body = bytearray()
        with httpx.Client(timeout=self.client.timeout, follow_redirects=True) as bare:
            try:
                with bare.stream("GET", url) as response:
                    raise_for(response, self.default_wait, read=True)
                    for block in response.iter_bytes():
                        body += block
                        if len(body) > METRICS_MAX_BYTES:
                            raise safe_error(f"{PROVIDER}'s metrics file is over {METRICS_MAX_BYTES // 2**20} MiB", "Following goes on without curves.", ResponseShapeError)
            except httpx.HTTPError as exc:
                raise _unavailable(exc) from None
        rows = []
        for line in body.decode("utf-8", errors="replace").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a line being written while read, or damaged: the rest still counts
        return rows

    def download_files(self, urls: Mapping[str, Any], target: Path, limits: ArchiveLimits) -> None:
        """Each file of `filenameToSignedUrls` into `target` (made whole or not at all)."""
        if not urls or len(urls) > limits.max_members:
            raise ArchiveError(f"{PROVIDER} offered {len(urls)} adapter files", "Raise `[hosted] adapter_max_files` if that is right.")
        partial = target.with_name(target.name + ".partial")
        _remove_tree(partial)
        partial.mkdir(parents=True)
        total = 0
        try:
            with httpx.Client(timeout=self.client.timeout, follow_redirects=True) as bare:
                for name, url in urls.items():
                    if not _PLAIN_FILE.fullmatch(str(name)) or not isinstance(url, str):
                        raise ArchiveError(f"{PROVIDER} offered an adapter file named {str(name)[:80]!r}", "Only plain file names are accepted.")
                    total = _save(bare, url, partial / str(name), limits.max_bytes - total, self.default_wait) + total
        except httpx.HTTPError as exc:
            _remove_tree(partial)
            raise _unavailable(exc) from None
        except BaseException:
            _remove_tree(partial)
            raise
        partial.replace(target)


def _save(client: httpx.Client, url: str, path: Path, room: int, default_wait: float) -> int:
    written = 0
    with client.stream("GET", url) as response:
        raise_for(response, default_wait, read=True)
        with open(path, "wb") as handle:
            for block in response.iter_bytes():
                written += len(block)
                if written > room:
                    raise ArchiveError("The adapter download is larger than `[hosted] adapter_max_gib`", "Raise it if the adapter is really that large.")
                handle.write(block)
            handle.flush()
            os.fsync(handle.fileno())
    return written


def raise_for(response: httpx.Response, default_wait: float, read: bool = False) -> None:
    if response.status_code < 400:
        return
    if read:
        response.read()
    if response.status_code == 429:
        raise RateLimitedError(PROVIDER, retry_after_of(response.headers, default_wait))
    message = _message(response)
    if response.status_code >= 500:
        raise safe_error(f"{PROVIDER} had an internal error (HTTP {response.status_code}): {message[:300]}", "", ProviderUnavailableError)
    raise refusal(PROVIDER, message[:500], response.status_code)


def _message(response: httpx.Response) -> str:
    # The control plane answers like gRPC-gateway ({"code", "message"}), inference like OpenAI ({"error": {...}}).
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            return str(inner.get("message") or inner)
        if body.get("message"):
            return str(body["message"])
    return response.text


def _unavailable(exc: httpx.HTTPError) -> BackendError:
    return safe_error(f"{PROVIDER} did not answer: {type(exc).__name__}: {exc}", "", ProviderUnavailableError)


def _remove_tree(path: Path) -> None:
    if path.is_dir():
        for child in path.iterdir():
            child.unlink(missing_ok=True)
        path.rmdir()
