"""The HTTP client of the providers tuneui reaches without their SDK (Together, Fireworks).

One shape for both: the API's base URL with a trailing slash (relative paths join under it), the
key as a bearer token, two minutes a request (an upload is slow) but ten seconds to connect, and
two retries of a connection that failed before any byte was sent.
"""

from __future__ import annotations

import httpx


def api_client(base_url: str, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {key}"},
        timeout=httpx.Timeout(120.0, connect=10.0),
        transport=httpx.HTTPTransport(retries=2),
    )
