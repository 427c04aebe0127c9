"""The typed errors of hosted backends, and the one place provider text becomes an error.

Every message that leaves a hosted backend passes through `redact()`: a provider may echo an
Authorization header or a key in its error text, and that must not reach a screen or a file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from tuneui.core.backend import BackendError, NotReadyError
from tuneui.core.secrets import redact

SWITCH_ADVICE = (
    "Switch provider (`tuneui estimate` compares them, with prices), or train on your own GPU with `--backend local`."
)


class RateLimitedError(BackendError):
    """The provider said 429: following waits `retry_after` seconds before asking again."""

    def __init__(self, provider: str, retry_after: float) -> None:
        super().__init__(
            f"{provider} is rate limiting this key; the next poll waits {retry_after:.0f} s",
            "Nothing to do: following resumes by itself.",
        )
        self.retry_after = retry_after


class ProviderUnavailableError(BackendError):
    """A timeout, a dropped connection or a 5xx: the job is fine, the next poll tries again."""


class UnconfirmedJobError(ProviderUnavailableError):
    """A create request went unanswered and the lookup that would find its job failed too: the job
    may exist. The run is kept (not failed), and its next `status` looks again."""


class RefusedError(BackendError):
    """The provider answered a request with a 4xx (other than 401/403/429): it will not do this."""

    def __init__(self, title: str, hint: str = "", status_code: int | None = None) -> None:
        super().__init__(title, hint)
        self.status_code = status_code


class ResponseShapeError(BackendError):
    """The provider answered, but without a field tuneui needs: an API change or a proxy in the way."""


# Characters a provider's identifier (status word, job id, model name, checkpoint path) may hold.
_NOT_IN_A_WORD = re.compile(r"[^A-Za-z0-9_.:/@+=-]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
TEXT_LIMIT = 2000
WORD_LIMIT = 200


def provider_text(value: object, limit: int = TEXT_LIMIT) -> str:
    """Free text from a provider (a message, an error, a warning), ready to store or show: secrets
    redacted, control characters other than newline and tab made visible, at most `limit` long."""
    text = redact(str(value))
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)[:limit]


def provider_word(value: object) -> str:
    """An identifier from a provider (a status word, a checkpoint id): redacted, and reduced to
    the characters identifiers use, so it can be written into a file name, an event id or a line."""
    return _NOT_IN_A_WORD.sub("?", redact(str(value)))[:WORD_LIMIT]


def provider_number(value: object) -> float | None:
    """A number a provider sent (a step, a loss, a timestamp), or None when it is not a finite one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


# 9999-12-31 23:59:59 UTC: the last second a date can be shown for.
LATEST_TIME = 253402300799.0


def provider_time(value: object) -> float | None:
    """A Unix time a provider sent, or None when it is no number or no date (negative, past 9999)."""
    number = provider_number(value)
    return number if number is not None and 0 <= number <= LATEST_TIME else None


def provider_count(value: object) -> int | None:
    """A step or a count a provider sent, or None when it is not a finite number >= 0."""
    number = provider_number(value)
    return int(number) if number is not None and number >= 0 else None


def provider_data(value: Any) -> Any:
    """A provider-sourced JSON value with every string passed through `provider_text`."""
    if isinstance(value, Mapping):
        return {provider_word(key): provider_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [provider_data(item) for item in value]
    if value is None or isinstance(value, bool) or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return provider_text(value)


def safe_error(title: str, hint: str = "", cls: type[BackendError] = BackendError) -> BackendError:
    """A backend error whose title and hint are free of secrets."""
    return cls(redact(title), redact(hint))


def refusal(provider: str, message: str, status_code: int | None) -> BackendError:
    """The provider refused a request (eligibility, quota, bad model): shown as it is, with a way out."""
    code = f" (HTTP {status_code})" if status_code else ""
    if status_code in (401, 403):
        return safe_error(f"{provider} refused the request{code}: {message}", f"Check the API key. {SWITCH_ADVICE}", NotReadyError)
    return RefusedError(redact(f"{provider} refused the request{code}: {message}"), redact(SWITCH_ADVICE), status_code)


def require(payload: object, keys: tuple[str, ...], what: str, provider: str) -> None:
    """Raise a clear error naming the first field `payload` lacks (or saying it is no object at all)."""
    if not isinstance(payload, Mapping):
        raise safe_error(
            f"{provider} returned a {what} that is not a JSON object: {str(payload)[:80]!r}",
            "The provider's API may have changed, or a proxy rewrote the answer; check the base URL.",
            ResponseShapeError,
        )
    for key in keys:
        if payload.get(key) is None:
            raise safe_error(
                f"{provider} returned a {what} without its '{key}' field",
                "The provider's API may have changed, or a proxy rewrote the answer; check the base URL.",
                ResponseShapeError,
            )
