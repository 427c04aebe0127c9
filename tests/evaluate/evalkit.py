"""Helpers of the Evaluate tests: a scripted backend, a ticket task, a finished run."""

from __future__ import annotations

import json
import time
from typing import Callable, Sequence

from tuneui.core.backend import Backend, Event, GenerationParams, ModelRef, TrainSpec

# (label question, label) pairs: a ticket classification task whose answers are single labels.
TICKETS = [
    ("I was charged twice for March.", "billing"),
    ("The app crashes when I open settings.", "bug"),
    ("How do I export my data to CSV?", "question"),
    ("My invoice shows the wrong VAT number.", "billing"),
    ("Clicking save does nothing on Firefox.", "bug"),
    ("Can I change my username?", "question"),
    ("Refund the duplicate payment please.", "billing"),
    ("The page goes blank after login.", "bug"),
    ("Where do I find the API docs?", "question"),
    ("Why was my card declined at renewal?", "billing"),
    ("Images fail to upload since the update.", "bug"),
    ("Is there a dark mode?", "question"),
]
SYSTEM = "Classify the support ticket as billing, bug or question. Reply with the label only."

Answerer = Callable[[ModelRef, Sequence[dict]], str]


class ScriptedBackend(Backend):
    """Answers from a test-supplied function and records every conversation it was asked."""

    name = "scripted"
    answer: Answerer = staticmethod(lambda model, conversation: "")
    calls: list[tuple[ModelRef, list]] = []

    def __init__(self, workspace) -> None:
        self.workspace = workspace

    def check(self, model=None):  # pragma: no cover - not used by evaluation
        raise NotImplementedError

    def estimate(self, spec, stats):  # pragma: no cover
        raise NotImplementedError

    def start(self, spec):  # pragma: no cover
        raise NotImplementedError

    def events(self, run_id, after=0):  # pragma: no cover
        raise NotImplementedError

    def status(self, run_id):  # pragma: no cover
        raise NotImplementedError

    def cancel(self, run_id):  # pragma: no cover
        raise NotImplementedError

    def result(self, run_id):  # pragma: no cover
        raise NotImplementedError

    def generate(self, model, conversations, params=GenerationParams()):
        type(self).calls.append((model, [list(c) for c in conversations]))
        return [type(self).answer(model, list(c)) for c in conversations]


def chat_line(question: str, answer: str, system: str | None = SYSTEM) -> str:
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
    ]
    return json.dumps({"messages": messages})


def write_split(workspace, train: Sequence[tuple[str, str]], val: Sequence[tuple[str, str]]) -> None:
    workspace.data_dir.mkdir(parents=True, exist_ok=True)
    workspace.train_file.write_text("".join(chat_line(q, a) + "\n" for q, a in train), encoding="utf-8")
    workspace.val_file.write_text("".join(chat_line(q, a) + "\n" for q, a in val), encoding="utf-8")


def make_finished_run(workspace, backend: str = "scripted", base_model: str = "base-model") -> str:
    """A succeeded run with an adapter model_ref and a few loss events, as a trainer leaves it."""
    from backends.runs import RunFolder

    run_id = workspace.new_run_id()
    spec = TrainSpec(run_id=run_id, backend=backend, model=base_model, train_file=str(workspace.train_file))
    run = RunFolder.create(workspace.runs_dir, spec)
    ref = ModelRef(backend=backend, base_model=base_model, kind="adapter", path=str(run.adapter_dir))
    run.write_status(status="succeeded", model_ref=ref.to_dict())
    now = time.time()
    run.append_events(
        Event("metrics", {"step": step, "train_loss": 2.0 / step, **({"valid_loss": 2.2 / step} if step % 2 == 0 else {})}, now)
        for step in range(1, 9)
    )
    return run_id


def question_of(conversation: Sequence[dict]) -> str:
    return conversation[-1]["content"]


def label_of(question: str) -> str:
    return dict(TICKETS)[question]


def fair_judge(model, conversation) -> str:
    """A judge that prefers the answer equal to the reference, else calls a tie."""
    text = conversation[-1]["content"]
    reference = text.split("Reference answer:\n", 1)[1].split("\n\nAnswer A:\n", 1)[0]
    answer_a = text.split("\n\nAnswer A:\n", 1)[1].split("\n\nAnswer B:\n", 1)[0]
    answer_b = text.split("\n\nAnswer B:\n", 1)[1].split("\n\nWhich answer", 1)[0]
    if (answer_a == reference) == (answer_b == reference):
        return "Winner: tie"
    return "Winner: A" if answer_a == reference else "Winner: B"


def many_tickets(count: int, offset: int = 0) -> list[tuple[str, str]]:
    """`count` distinct tickets with labels, for realistic-size splits (the docs screenshot)."""
    subjects = ["invoice", "checkout page", "mobile app", "export", "login", "team plan", "API key", "report"]
    templates = [
        ("My {s} charged me twice this month.", "billing"),
        ("The {s} crashes with error 500.", "bug"),
        ("How do I share the {s} with a colleague?", "question"),
        ("Why did the price of the {s} go up?", "billing"),
        ("The {s} shows a blank screen on Safari.", "bug"),
        ("Is there a way to schedule the {s}?", "question"),
    ]
    tickets = []
    for i in range(offset, offset + count):
        text, label = templates[i % len(templates)]
        tickets.append((f"{text.format(s=subjects[(i // len(templates)) % len(subjects)])} (#{1000 + i})", label))
    return tickets


def loss_curve(run_dir, steps: int = 60) -> None:
    """Append a plausible decaying train loss (every step) and validation loss (every 10 steps)."""
    from backends.runs import RunFolder

    now = time.time()
    events = []
    for step in range(1, steps + 1):
        wobble = 0.06 * ((step * 7919) % 13 - 6) / 6
        data = {"step": step, "train_loss": round(0.35 + 1.9 * 0.94**step + wobble, 4)}
        if step % 10 == 0:
            data["valid_loss"] = round(0.48 + 1.8 * 0.95**step, 4)
        events.append(Event("metrics", data, now + step))
    RunFolder(run_dir).append_events(events)
