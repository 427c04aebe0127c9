"""Base-model candidates: `[models] candidates` and repeated `--model`, each as (backend, model).

A candidate is written the way a person names a model: a folder or a Hugging Face id (trained on
this machine), or `backend:model` for a hosted one (`openai:gpt-4o-mini`). A Windows drive letter
or a hub id never has a provider's name before its colon, so only a known provider name splits.
"""

from __future__ import annotations

from typing import Any, Sequence

from tuneui.errors import UsageError


def candidate_of(text: str, models: Any, backend: str | None = None) -> tuple[str, str]:
    """The (backend, model) that `text` names; `backend` (a --backend flag) applies to bare names."""
    from tuneui.core.providers import backend_names, choose, here

    name, colon, rest = text.partition(":")
    if colon and name in backend_names() and rest.strip():
        return name, rest.strip()
    if backend:
        return choose(models, backend, text)
    return here().name, text  # a folder or a hub id: trained here


def candidates_of(texts: Sequence[str], models: Any, backend: str | None = None) -> list[tuple[str, str]]:
    """Each named candidate once, in the order given."""
    chosen: list[tuple[str, str]] = []
    for text in texts:
        if not text.strip():
            raise UsageError("--model is empty", "Name a model folder, a Hugging Face id, or backend:model.")
        pair = candidate_of(text, models, backend)
        if pair not in chosen:
            chosen.append(pair)
    return chosen


def configured_candidates(models: Any) -> list[tuple[str, str]]:
    """`[models] candidates` as (backend, model) pairs; empty when none are set."""
    return candidates_of(list(models.candidates or ()), models)
