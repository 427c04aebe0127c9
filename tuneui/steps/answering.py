"""Asking a model for many answers with a count as it goes: "answer 7 of 66" on the step's
progress channel (the guide reads it from the child's stderr, `tuneui.guide.progress`).

A backend that counts its own answers (`complete_counted`: the local worker, inside its batches)
reports each as it finishes; any other is asked in chunks of its batch, so counting costs no speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from tuneui.core.backend import Backend, GenerationParams, ModelRef

Progress = Callable[[str], None]
LOCAL_CHUNK = 32  # the local inference worker's CPU batch (backends/local/inference.py)
# Three rounds of the hosted backends' 8 requests in flight (backends/hosted/base.py): each chunk
# waits for its slowest answer, so a chunk of 8 would leave the pool idle at every count.
HOSTED_CHUNK = 24


@dataclass
class AnswerCount:
    """The answers a whole step asks for, counted across its variants and models."""

    total: int
    progress: Progress | None = None
    done: int = 0
    said: list[str] = field(default_factory=list)

    def expect(self, more: int) -> None:
        """More answers to ask for than counted so far (a step learns some only as it goes)."""
        self.total += more

    def add(self, answered: int, what: str) -> None:
        self.reach(self.done + answered, what)

    def reach(self, done: int, what: str) -> None:
        """`done` answers counted so far (from a backend that counts as it goes)."""
        if done <= self.done and self.said:
            return
        self.done = done
        if self.progress:
            line = f"answer {self.done} of {self.total} ({what})"
            self.said.append(line)
            self.progress(line)


def answer_all(
    backend: Backend,
    ref: ModelRef,
    conversations: Sequence[Any],
    params: GenerationParams,
    count: AnswerCount | None,
    what: str,
) -> tuple[list[str], list[bool | None]]:
    """`backend.complete` on every conversation, a chunk at a time, counted in `count`."""
    if count is None:
        answers, ended = backend.complete(ref, list(conversations), params)
        return list(answers), list(ended)
    if count.done == 0:
        count.add(0, what)
    counted = getattr(backend, "complete_counted", None)
    if counted is not None:  # the local worker counts answers as they finish, batch or no batch
        before = count.done
        got, ends = counted(ref, list(conversations), params, lambda done: count.reach(before + done, what))
        count.reach(before + len(conversations), what)
        return list(got), list(ends)
    chunk = LOCAL_CHUNK if ref.backend == "local" else HOSTED_CHUNK
    answers: list[str] = []
    ended: list[bool | None] = []
    for start in range(0, len(conversations), chunk):
        part = list(conversations[start : start + chunk])
        got, ends = backend.complete(ref, part, params)
        answers += list(got)
        ended += list(ends)
        count.add(len(part), what)
    return answers, ended
