"""The forgetting check: a handful of general prompts outside the task, base model vs tuned.

Fine-tuning on a narrow task can cost general ability. Each prompt is answered by both models and
shown side by side; prompts with a known answer also get a plain check (does the answer name it?),
so "base 5/5, tuned 2/5" flags a model that lost more than it gained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Sequence

from tuneui.core.metrics import normalize


@dataclass(frozen=True)
class GeneralPrompt:
    prompt: str
    expect: tuple[str, ...]  # any of these in the answer counts as correct; empty = look only

    def passes(self, answer: str) -> bool | None:
        if not self.expect:
            return None
        text = normalize(answer)
        return any(normalize(word) in text for word in self.expect)


@dataclass(frozen=True)
class ForgettingCheck:
    prompts: tuple[GeneralPrompt, ...]
    base: tuple[str, ...]
    tuned: tuple[str, ...]

    @classmethod
    def of(cls, base: Sequence[str], tuned: Sequence[str]) -> "ForgettingCheck":
        """The check from both models' answers to `general_conversations()`."""
        return cls(general_prompts(), tuple(base), tuple(tuned))

    def score(self, answers: tuple[str, ...]) -> tuple[int, int]:
        """(answers naming the expected fact, prompts that have one)."""
        checks = [p.passes(a) for p, a in zip(self.prompts, answers)]
        known = [c for c in checks if c is not None]
        return sum(known), len(known)

    def to_dict(self) -> dict[str, Any]:
        base_ok, known = self.score(self.base)
        tuned_ok, _ = self.score(self.tuned)
        return {
            "base_correct": base_ok,
            "tuned_correct": tuned_ok,
            "checked": known,
            "items": [
                {"prompt": p.prompt, "base": b, "tuned": t, "base_ok": p.passes(b), "tuned_ok": p.passes(t)}
                for p, b, t in zip(self.prompts, self.base, self.tuned)
            ],
        }


def general_prompts() -> tuple[GeneralPrompt, ...]:
    """The prompts shipped in `tuneui/data/general_prompts.jsonl`."""
    text = resources.files("tuneui").joinpath("data/general_prompts.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return tuple(GeneralPrompt(row["prompt"], tuple(row.get("expect", ()))) for row in rows)


def general_conversations() -> list[list[dict[str, str]]]:
    """The general prompts as one-turn conversations, in `general_prompts()` order."""
    return [[{"role": "user", "content": p.prompt}] for p in general_prompts()]
