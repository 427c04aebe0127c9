"""Waiting between tries of one request (an upload, a job creation), the same for every provider.

Full-jitter exponential back-off from RETRY_BASE_S, so clients that failed together do not come
back together; or the provider's own retry-after (`retry-after` / `retry-after-ms`, read by the
wire modules into `RateLimitedError.retry_after`) when it sent one; never longer than RETRY_MAX_S.
"""

from __future__ import annotations

import random

from backends.hosted.errors import ProviderUnavailableError, RateLimitedError

ATTEMPTS = 3
RETRY_BASE_S = 0.5
RETRY_MAX_S = 120.0


def backoff_seconds(attempt: int, error: BaseException | None = None) -> float:
    """Seconds to wait after failed try number `attempt` (0-based): the error's retry-after plus
    up to 10% jitter, else a random wait below RETRY_BASE_S * 2**attempt."""
    told = getattr(error, "retry_after", None)
    if told:
        return min(told * random.uniform(1.0, 1.1), RETRY_MAX_S)
    return random.uniform(0.0, min(RETRY_BASE_S * 2**attempt, RETRY_MAX_S))


def transient(error: BaseException) -> bool:
    """A failure the same request may not meet again: a rate limit, a timeout, a 5xx."""
    return isinstance(error, (ProviderUnavailableError, RateLimitedError))
