"""A dedicated Together endpoint for a fine-tune, started only with the user's consent.

Consent is a price: `[together] endpoint_max_cents_per_minute` (0, the default, means never). The
message that says a fine-tune needs an endpoint shows the price of the cheapest available
hardware first; a user who sets the ceiling at or above it lets evaluation and chat start one.
The endpoint is stopped when the process that started it (a `tuneui eval`, the app) ends, and
Together stops it by itself after IDLE_STOP_MINUTES without requests in case that process dies.
Its id, name, hardware and price are kept in the run's status.json (`endpoint`).
"""

from __future__ import annotations

import atexit
import sys
import time
from typing import Any, Callable, Mapping

from tuneui.core.backend import BackendError, Event
from backends.hosted import together_wire as wire
from backends.hosted.errors import RefusedError, provider_word
from backends.runs import RunFolder

IDLE_STOP_MINUTES = 10
START_TIMEOUT_S = 30 * 60  # Together takes minutes to place and load a model


def start(http: wire.TogetherHTTP, folder: RunFolder, model_id: str, offer: tuple[float, str], poll_s: float) -> str:
    """Start (or restart) this run's endpoint for `model_id` on `offer` (cents/min, hardware);
    wait until it serves; return the name to send as `model`. Stopped again at exit."""
    cents, hardware = offer
    known = folder.read_status().get("endpoint") or {}
    endpoint = _restart(http, known["id"]) if known.get("id") else None
    if endpoint is None:
        request = {"display_name": f"tuneui {folder.run_id}", "model": model_id, "hardware": hardware,
                   "autoscaling": {"min_replicas": 1, "max_replicas": 1}, "inactive_timeout": IDLE_STOP_MINUTES}  # fmt: skip
        endpoint = http.json("POST", "endpoints", json=request)
    endpoint_id, name = _identity(endpoint)
    # Recorded before waiting: an interrupted start is found, and stopped, by the next process.
    folder.write_status(endpoint={"id": endpoint_id, "name": name, "hardware": hardware, "cents_per_minute": cents})
    atexit.register(stop, http, endpoint_id)
    message = f"Started dedicated endpoint {name} on {hardware} at ${cents / 100:,.2f}/min; it stops when this ends."
    folder.append_events([Event("log", {"level": "warn", "message": message}, time.time(), id=f"endpoint:{endpoint_id}:{time.time():.0f}")])
    _wait_started(lambda: http.json("GET", f"endpoints/{endpoint_id}"), endpoint, poll_s)
    return name


def stop(http: wire.TogetherHTTP, endpoint_id: str) -> None:
    """Stop the endpoint (billing ends); a failure here is reported, never raised at exit."""
    try:
        http.json("PATCH", f"endpoints/{endpoint_id}", json={"state": "STOPPED"})
    except BackendError as exc:
        print(f"tuneui: could not stop Together endpoint {endpoint_id}: {exc.title}. Stop it at together.ai.", file=sys.stderr)


def _restart(http: wire.TogetherHTTP, endpoint_id: str) -> Any:
    """The run's earlier endpoint, started again; None when it was deleted meanwhile."""
    try:
        return http.json("PATCH", f"endpoints/{endpoint_id}", json={"state": "STARTED"})
    except RefusedError as exc:
        if exc.status_code == 404:
            return None
        raise


def offer_of(http: wire.TogetherHTTP, model_id: str) -> tuple[float, str] | None:
    """(cents per minute, hardware id) of the cheapest available hardware for `model_id`."""
    try:
        rows = wire.rows_of(http.json("GET", "hardware", params={"model": model_id}), "a hardware list")
    except BackendError:
        return None
    return wire.cheapest_hardware(rows)


def consented(settings: Any, offer: tuple[float, str] | None) -> bool:
    ceiling = settings.together.endpoint_max_cents_per_minute if settings is not None else 0
    return offer is not None and 0 < offer[0] <= ceiling


def _identity(endpoint: Any) -> tuple[str, str]:
    if not isinstance(endpoint, Mapping):
        raise BackendError(f"{wire.PROVIDER} answered an endpoint request with no endpoint", "Check `[together] base_url`.")
    return wire.job_word(endpoint.get("id"), "endpoint id"), wire.job_word(endpoint.get("name"), "endpoint name")


def _wait_started(fetch: Callable[[], Any], endpoint: Any, poll_s: float) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        state = provider_word(endpoint.get("state") if isinstance(endpoint, Mapping) else "")
        if state == "STARTED":
            return
        if state in ("ERROR", "STOPPED", "STOPPING") or time.monotonic() > deadline:
            raise BackendError(f"The dedicated endpoint did not start (state {state})", "See it at together.ai; nothing else was started.")
        time.sleep(poll_s)
        endpoint = fetch()
