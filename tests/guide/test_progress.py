"""A step's progress: "answer N of M", a rate and an ETA that corrects itself (issue 21)."""

from __future__ import annotations

from typing import Any, Sequence

from tuneui.core.backend import GenerationParams, ModelRef
from tuneui.guide.progress import StepProgress
from tuneui.steps.answering import AnswerCount, answer_all


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_text_counts_answers_and_the_eta_follows_the_measured_speed() -> None:
    clock = Clock()
    progress = StepProgress("baseline", clock=clock)
    assert progress.text() == "baseline: starting · 0m00s so far"
    assert progress.feed("progress: baseline: system on 66 examples with local:m")
    assert progress.text().startswith("baseline: baseline: system on 66 examples")
    progress.feed("progress: answer 0 of 66 (baseline, system)")
    clock.now += 10
    progress.feed("progress: answer 6 of 66 (baseline, system)")
    first = progress.text()
    assert first.startswith("baseline: answer 6 of 66 · baseline, system · 36 answers/min · about 1m40s left")
    # The machine slows down: the ETA follows the last minute's speed, not the first answers'.
    for _ in range(4):
        clock.now += 30
        progress.feed(f"progress: answer {progress.done + 3} of 66 (baseline, system)")
    assert progress.done == 18
    assert "about 8m" in progress.text(), progress.text()
    clock.now += 20
    assert "about 7m" in progress.text(), "time passing without news shortens the ETA"


def test_lines_that_are_not_progress_change_nothing() -> None:
    progress = StepProgress("eval", clock=Clock())
    before = progress.text()
    assert not progress.feed("Loading weights…")
    assert progress.text() == before


class CountingBackend:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def complete(self, ref: ModelRef, conversations: Sequence[Any], params: GenerationParams):
        self.calls.append(len(conversations))
        return [f"a{i}" for i in range(len(conversations))], [True] * len(conversations)


def test_answers_are_asked_a_batch_at_a_time_and_counted_across_variants() -> None:
    said: list[str] = []
    count = AnswerCount(0, said.append)
    count.expect(2 * 40)
    backend = CountingBackend()
    hosted = ModelRef(backend="openai", base_model="gpt-4o-mini")
    answers, ended = answer_all(backend, hosted, [[{"role": "user", "content": str(i)}] for i in range(40)], GenerationParams(), count, "zero-shot")
    assert len(answers) == 40 and ended == [True] * 40
    assert backend.calls == [24, 16]
    local = ModelRef(backend="local", base_model="m")
    answer_all(backend, local, [[{"role": "user", "content": str(i)}] for i in range(40)], GenerationParams(), count, "3-shot")
    assert backend.calls[2:] == [32, 8], "without its own count, a local model is asked a batch at a time"
    assert said[0] == "answer 0 of 80 (zero-shot)"
    assert said[-1] == "answer 80 of 80 (3-shot)"
    assert said[1:3] == [f"answer {n} of 80 (zero-shot)" for n in (24, 40)]


class SelfCountingBackend(CountingBackend):
    """Like the local worker: it says how many answers are done as they finish, inside a batch."""

    def complete_counted(self, ref, conversations, params, on_count):
        for done in (1, 2, 5, 7):
            on_count(done)
        return self.complete(ref, conversations, params)


def test_a_backend_that_counts_its_answers_reports_each_count() -> None:
    said: list[str] = []
    count = AnswerCount(0, said.append)
    count.expect(14)
    backend = SelfCountingBackend()
    local = ModelRef(backend="local", base_model="m")
    answer_all(backend, local, [[{"role": "user", "content": "a"}]] * 7, GenerationParams(), count, "zero-shot")
    answer_all(backend, local, [[{"role": "user", "content": "b"}]] * 7, GenerationParams(), count, "system")
    assert backend.calls == [7, 7], "asked at once: the worker batches and counts"
    assert said == [f"answer {n} of 14 (zero-shot)" for n in (0, 1, 2, 5, 7)] + [f"answer {n} of 14 (system)" for n in (8, 9, 12, 14)]
