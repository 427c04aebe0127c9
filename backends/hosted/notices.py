"""Dated facts about hosted providers that decide whether a job may start at all.

OpenAI closed fine-tuning to new organisations on 2026-05-07 and accepts no new jobs after
2027-01-06; some base models shut down earlier. Azure OpenAI publishes its dates per model in
its model list (`lifecycle_status`, `deprecation`). The dates are data, checked against today.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from tuneui.core.secrets import redact

OPENAI_NO_NEW_JOBS_AFTER = dt.date(2027, 1, 6)
OPENAI_CLOSED_TO_NEW_ORGS = dt.date(2026, 5, 7)


@dataclass(frozen=True)
class ModelShutdown:
    prefixes: tuple[str, ...]
    date: dt.date
    what: str


# Prefixes match dated snapshots too (gpt-4o-mini-2024-07-18) and fine-tunes (ft:gpt-4o-mini:...).
OPENAI_SHUTDOWNS = (
    ModelShutdown(("gpt-4.1-nano", "o4-mini"), dt.date(2026, 10, 23), "gpt-4.1-nano and o4-mini"),
    ModelShutdown(("gpt-4o", "gpt-4.1"), dt.date(2027, 1, 14), "the gpt-4o and gpt-4.1 families and their fine-tunes"),
)


def base_of(model: str) -> str:
    """`ft:gpt-4o-mini-2024-07-18:org::id` -> `gpt-4o-mini-2024-07-18`; other names as they are."""
    return model.split(":")[1] if model.startswith("ft:") else model


def openai_dated_notices(model: str | None, today: dt.date) -> tuple[list[str], list[str]]:
    """(reasons it cannot run, notes to show) for fine-tuning `model` on OpenAI on `today`."""
    reasons: list[str] = []
    notes: list[str] = []
    if today >= OPENAI_NO_NEW_JOBS_AFTER:
        reasons.append(f"OpenAI accepts no new fine-tuning jobs since {OPENAI_NO_NEW_JOBS_AFTER}.")
    else:
        notes.append(
            f"OpenAI accepts no new fine-tuning jobs after {OPENAI_NO_NEW_JOBS_AFTER} "
            f"(closed to new organisations since {OPENAI_CLOSED_TO_NEW_ORGS})."
        )
    if model:
        shutdown = shutdown_of(model)
        if shutdown is not None:
            line = f"{model}: {shutdown.what} shut down on {shutdown.date}"
            (reasons if today >= shutdown.date else notes).append(line + ("." if today >= shutdown.date else " (announced)."))
    return reasons, notes


def shutdown_of(model: str) -> ModelShutdown | None:
    name = base_of(model)
    # Longest prefix first: gpt-4.1-nano must not be read as the gpt-4.1 family.
    ordered = sorted(((p, s) for s in OPENAI_SHUTDOWNS for p in s.prefixes), key=lambda item: -len(item[0]))
    for prefix, shutdown in ordered:
        if name == prefix or name.startswith(prefix + "-"):
            return shutdown
    return None


def shutdown_date_note(model: str, shutdown_date: str | None, today: dt.date) -> tuple[str | None, str | None]:
    """(reason, note) from a `shutdown_date` that `GET /models` reported for `model`."""
    if not shutdown_date:
        return None, None
    try:
        when = dt.date.fromisoformat(str(shutdown_date)[:10])
    except ValueError:
        return None, f"{model}: shutdown date reported as {shutdown_date!r}."
    if today >= when:
        return f"{model} was shut down on {when} (per the provider's model list).", None
    return None, f"{model} shuts down on {when} (per the provider's model list)."


def azure_model_notes(model: str, entry: Mapping[str, Any], today: dt.date) -> tuple[list[str], list[str]]:
    """(reasons, notes) from an Azure `Model`: `capabilities.fine_tune`, `lifecycle_status` and the
    `deprecation` dates (unix seconds) for fine-tuning and for inference. Azure has no `shutdown_date`."""
    reasons: list[str] = []
    notes: list[str] = []
    capabilities = entry.get("capabilities") if isinstance(entry.get("capabilities"), Mapping) else {}
    if capabilities.get("fine_tune") is False:
        reasons.append(f"{model} cannot be fine-tuned on this Azure resource (its model list says fine_tune: false).")
    lifecycle = str(entry.get("lifecycle_status") or "")
    if lifecycle == "deprecated":
        reasons.append(f"{model} is deprecated on Azure OpenAI and no longer supported.")
    elif lifecycle == "deprecating":
        notes.append(f"{model} is being deprecated on Azure OpenAI.")
    deprecation = entry.get("deprecation") if isinstance(entry.get("deprecation"), Mapping) else {}
    for use, what in (("fine_tune", "fine-tuning"), ("inference", "calls")):
        if deprecation.get(use) is None:
            continue
        when = _unix_date(deprecation[use])
        if when is None:
            notes.append(redact(f"{model}: Azure reports the end of {what} as {deprecation[use]!r}, which is not a date."))
        elif use == "fine_tune" and today >= when:
            reasons.append(f"{model}: Azure ended fine-tuning on {when} (per the model list).")
        elif today >= when:
            notes.append(f"{model}: Azure stopped serving calls on {when} (per the model list).")
        else:
            notes.append(f"{model}: Azure ends {what} on {when} (per the model list).")
    return reasons, notes


def _unix_date(value: Any) -> dt.date | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc).date()
    except (OverflowError, OSError, ValueError):
        return None
