"""The held-out set every comparison uses: the val split, its task type, labels and fingerprint."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from backends.base import GenerationParams
from tuneui.core.dataset import Example, detect_task_type, read_chat_jsonl
from tuneui.core.dataset.split import read_split_record, refuse_leakage
from tuneui.core.files import read_json
from tuneui.core.metrics import normalize
from tuneui.core.workspace import Workspace
from tuneui.errors import UsageError

# Answers are capped a little above the longest reference: long enough for any right answer,
# short enough that a rambling model does not make evaluation slow (or expensive when hosted).
MIN_NEW_TOKENS = 32
MAX_NEW_TOKENS = 1024
CHARS_PER_TOKEN = 3  # conservative: English BPE averages about 4


@dataclass(frozen=True)
class EvalSet:
    """The validation examples (what is scored) and train examples (where k-shot prompts come from)."""

    train: tuple[Example, ...]
    val: tuple[Example, ...]
    task_type: str
    labels: tuple[str, ...]  # the label set, for classification; empty otherwise
    fingerprint: str  # sha256 of the val file: a saved result is reused only for identical data
    val_path: Path

    @property
    def references(self) -> list[str]:
        return [example.answer or "" for example in self.val]

    def generation_params(self, seed: int = 0) -> GenerationParams:
        longest = max((len(ref) for ref in self.references), default=0)
        budget = math.ceil(1.5 * longest / CHARS_PER_TOKEN)
        return GenerationParams(max_new_tokens=min(MAX_NEW_TOKENS, max(MIN_NEW_TOKENS, budget)), seed=seed)


def load_eval_set(workspace: Workspace) -> EvalSet:
    """Read `data/train.jsonl` and `data/val.jsonl`; the task type comes from tuneui.toml or the data."""
    settings = workspace.settings()
    if not workspace.val_file.is_file():
        raise UsageError(
            f"No validation split: {workspace.val_file} does not exist",
            "Import your examples and split them first: `tuneui data import FILE` then `tuneui data split`.",
        )
    val = tuple(read_chat_jsonl(workspace.val_file))
    train = tuple(read_chat_jsonl(workspace.train_file)) if workspace.train_file.is_file() else ()
    if read_split_record(workspace.data_dir) is not None:
        refuse_leakage(train, val, workspace.train_file, workspace.val_file)
    unanswered = [e for e in val if not (e.answer or "").strip()]
    if not val or unanswered:
        where = f"line {unanswered[0].line}" if unanswered else "the file"
        raise UsageError(
            f"{workspace.val_file}: {where} has no reference answer to score against",
            "Every validation example must end with an assistant message; fix it or run `tuneui data check`.",
            exit_code=1,
        )
    task_type = settings.project.task_type
    if task_type == "auto":
        task_type = detect_task_type(list(train + val))
    labels = _label_set(train + val) if task_type == "classification" else ()
    fingerprint = hashlib.sha256(workspace.val_file.read_bytes()).hexdigest()
    return EvalSet(train, val, task_type, labels, fingerprint, workspace.val_file)


def _label_set(examples: Sequence[Example]) -> tuple[str, ...]:
    """Distinct answers, one spelling per normalized form (the most frequent one)."""
    counts: dict[str, dict[str, int]] = {}
    for example in examples:
        answer = (example.answer or "").strip()
        if answer:
            spellings = counts.setdefault(normalize(answer), {})
            spellings[answer] = spellings.get(answer, 0) + 1
    return tuple(sorted(max(s, key=lambda k: (s[k], k)) for s in counts.values()))


def without_system(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(m) for m in messages if m.get("role") != "system"]


def message_text(message: Mapping[str, Any]) -> str:
    """A message's content as text; content-part lists are joined."""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    return "" if content is None else str(content)


def read_saved(path: Path) -> dict[str, Any] | None:
    """A JSON object an earlier evaluation saved, or None when it is missing or no longer a valid
    object (a person edited it): saved answers are a cache, recomputed rather than fatal."""
    try:
        value = read_json(path)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
