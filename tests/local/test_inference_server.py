"""The inference child's request loop, with a stand-in model: what one request costs and says."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager

import backends.local.inference as inference


class CountingModel:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    def generate(self, conversations, params, on_count=None):
        self.log.append("generate")
        if on_count is not None:
            on_count(len(conversations))
        return [f"answer {i}" for i in range(len(conversations))], [True] * len(conversations)


class RecordingShare:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    @contextmanager
    def busy(self):
        self.log.append("busy")
        yield
        self.log.append("idle")


def serve(monkeypatch, request: dict) -> tuple[list[str], list[dict]]:
    log: list[str] = []
    monkeypatch.setattr(inference, "share", lambda: RecordingShare(log))
    out = io.StringIO()
    server = inference._Server(out)
    monkeypatch.setattr(server, "model", lambda ref: CountingModel(log))
    server.serve([json.dumps(request)])
    return log, [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_generate_request_generates_once_while_it_holds_its_share_of_the_cores(monkeypatch):
    conversations = [[{"role": "user", "content": "hi"}]] * 3
    log, replies = serve(monkeypatch, {"op": "generate", "model": {}, "conversations": conversations, "params": {}})
    # Each answer is generated once: a second pass doubled every baseline's and evaluation's time.
    assert log == ["busy", "generate", "idle"]
    assert replies == [{"completions": ["answer 0", "answer 1", "answer 2"], "ended": [True, True, True]}]


def test_a_generate_request_asking_for_progress_hears_the_count_before_the_answers(monkeypatch):
    conversations = [[{"role": "user", "content": "hi"}]] * 2
    request = {"op": "generate", "model": {}, "conversations": conversations, "params": {}, "progress": True}
    log, replies = serve(monkeypatch, request)
    assert log == ["busy", "generate", "idle"]
    assert replies[0] == {"progress": 2, "total": 2}
    assert replies[-1]["completions"] == ["answer 0", "answer 1"]
