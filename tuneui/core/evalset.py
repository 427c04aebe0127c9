"""The held-out set every comparison uses: the val split, its task type, labels and fingerprint."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from tuneui.core.backend import GenerationParams
from tuneui.core.dataset import Example, detect_task_type, read_chat_jsonl
from tuneui.core.dataset.split import read_split_record, refuse_leakage
from tuneui.core.files import read_json
from tuneui.core.metrics import normalize
from tuneui.core.workspace import Workspace
from tuneui.errors import UsageError

# Answers are capped at 1.5 x the 95th-percentile reference, and never below the longest one:
# room for any right answer, while a model that rambles or loops stops early instead of making
# evaluation slow (or expensive when hosted). Baseline and tuned answers share the cap.
MIN_NEW_TOKENS = 32
MAX_NEW_TOKENS = 1024
CHARS_PER_TOKEN = 3  # conservative: English BPE averages about 4
LENGTH_PERCENTILE = 0.95
LENGTH_MARGIN = 1.5
# Greedy decoding of small models loops ("No, no, no, ..."); no 5-gram may repeat within an answer.
NO_REPEAT_NGRAM = 5


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
        lengths = sorted(len(ref) for ref in self.references) or [0]
        typical_long = lengths[min(len(lengths) - 1, math.ceil(LENGTH_PERCENTILE * len(lengths)) - 1)]
        budget = math.ceil(max(LENGTH_MARGIN * typical_long, lengths[-1]) / CHARS_PER_TOKEN)
        return GenerationParams(
            max_new_tokens=min(MAX_NEW_TOKENS, max(MIN_NEW_TOKENS, budget)), seed=seed, no_repeat_ngram_size=NO_REPEAT_NGRAM
        )


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


def saved_ended(value: Any, count: int) -> tuple[bool | None, ...]:
    """Saved "ended on its own" flags; None for each answer saved before tuneui recorded them."""
    if isinstance(value, list) and len(value) == count:
        return tuple(flag if isinstance(flag, bool) else None for flag in value)
    return (None,) * count
