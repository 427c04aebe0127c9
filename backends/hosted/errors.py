"""The typed errors of hosted backends, and the one place provider text becomes an error.

Every message that leaves a hosted backend passes through `redact()`: a provider may echo an
Authorization header or a key in its error text, and that must not reach a screen or a file.
"""

from __future__ import annotations

from collections.abc import Mapping

from backends.base import BackendError, NotReadyError
from tuneui.core.secrets import redact

SWITCH_ADVICE = (
    "Switch provider (`--backend together`), or train on your own GPU with `--backend local`."
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


class ResponseShapeError(BackendError):
    """The provider answered, but without a field tuneui needs: an API change or a proxy in the way."""


def safe_error(title: str, hint: str = "", cls: type[BackendError] = BackendError) -> BackendError:
    """A backend error whose title and hint are free of secrets."""
    return cls(redact(title), redact(hint))


def refusal(provider: str, message: str, status_code: int | None) -> BackendError:
    """The provider refused a request (eligibility, quota, bad model): shown as it is, with a way out."""
    code = f" (HTTP {status_code})" if status_code else ""
    if status_code in (401, 403):
        return safe_error(f"{provider} refused the request{code}: {message}", f"Check the API key. {SWITCH_ADVICE}", NotReadyError)
    return safe_error(f"{provider} refused the request{code}: {message}", SWITCH_ADVICE)


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
