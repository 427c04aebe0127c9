"""Baseline and eval end to end on the hosted test servers (fake OpenAI and Together on 127.0.0.1).

A real fine-tuning run goes through the fake provider; its chat endpoint then answers as a
tuned model would (the right label), as the base model would (always "question"), or as a fair
judge, so the numbers and the verdict are known in advance.
"""

from __future__ import annotations

import json
import time

import pytest

from tuneui.core.backend import TERMINAL_STATES, TrainSpec
from tuneui.core.providers import get_backend
from tests.evaluate.evalkit import fair_judge, many_tickets, write_split
from tests.hosted.fake_openai import FakeOpenAI
from tests.hosted.fake_together import FakeTogether
from tuneui.cli import main

pytestmark = pytest.mark.integration  # local servers, child processes or torch

TRAIN, VAL = many_tickets(20), many_tickets(12, offset=20)
LABELS = dict(TRAIN + VAL)
TOGETHER_BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def _reply(model: str, messages: list, base_models: set[str]) -> str:
    if messages and messages[0]["content"].startswith("You are a strict, impartial evaluator"):
        return fair_judge(None, messages)
    question = messages[-1]["content"]
    if question not in LABELS:
        return "Paris"  # a general prompt of the forgetting check
    return "question" if model in base_models else LABELS[question]


class TicketOpenAI(FakeOpenAI):
    def _chat(self, request, match):
        body = request.json or {}
        self.chat_reply = _reply(body.get("model", ""), body.get("messages", []), {m["id"] for m in self.models})
        return super()._chat(request, match)


class TicketTogether(FakeTogether):
    def _chat(self, request, match):
        body = request.json or {}
        self.chat_reply = _reply(body.get("model", ""), body.get("messages", []), {m["id"] for m in self.models})
        return super()._chat(request, match)


@pytest.fixture
def servers(workspace, monkeypatch):
    with TicketOpenAI() as openai_server, TicketTogether() as together_server:
        monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", openai_server.api_key)
        monkeypatch.setenv("TOGETHER_API_KEY", together_server.api_key)
        monkeypatch.setenv("TUNEUI_POLL_SECONDS", "0.05")
        settings = workspace.settings()
        settings.together.base_url = together_server.base_url
        workspace.save_settings(settings)
        write_split(workspace, TRAIN, VAL)
        yield openai_server, together_server


def _finished_run(workspace, backend_name: str, model: str) -> str:
    backend = get_backend(backend_name, workspace)
    spec = TrainSpec(
        run_id=workspace.new_run_id(), backend=backend_name, model=model, train_file=str(workspace.train_file),
        val_file=str(workspace.val_file), epochs=1, suffix="tickets",
    )  # fmt: skip
    run_id = backend.start(spec)
    deadline = time.monotonic() + 20
    while backend.status(run_id).status not in TERMINAL_STATES:
        assert time.monotonic() < deadline, "the fake job did not finish"
        backend.events(run_id)
        time.sleep(0.05)
    assert backend.status(run_id).status == "succeeded"
    return run_id


def _cli_json(workspace, capsys, *args: str) -> dict:
    code = main(["--project", str(workspace.root), *args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_openai_run_judged_by_a_together_model(workspace, servers, capsys) -> None:
    openai_server, together_server = servers
    baseline = _cli_json(workspace, capsys, "baseline", "--backend", "openai", "--model", "gpt-4o-mini-2024-07-18")
    # The base model says "question" to everything: right on 4 of 12 whatever the prompt.
    assert baseline["variants"][baseline["best"]]["accuracy"] == round(4 / 12, 4)
    asked_for_baseline = len(openai_server.calls("POST", "/v1/chat/completions"))
    assert asked_for_baseline == 3 * 12

    run_id = _finished_run(workspace, "openai", "gpt-4o-mini-2024-07-18")
    out = _cli_json(workspace, capsys, "eval", run_id, "--judge", f"together:{TOGETHER_BASE}")
    assert out["metrics"]["tuned"]["accuracy"] == 1.0
    assert out["metrics"]["baseline"]["accuracy"] == round(4 / 12, 4)
    assert (out["judge"]["wins"], out["judge"]["ties"], out["judge"]["losses"]) == (8, 4, 0)
    assert out["judge"]["model"] == TOGETHER_BASE
    assert out["verdict"].startswith("tuned beats the zero-shot prompt on 8 of 12 held-out examples")
    # The saved baseline was reused: OpenAI answered only the tuned model and the forgetting check.
    openai_calls = openai_server.calls("POST", "/v1/chat/completions")
    assert len(openai_calls) - asked_for_baseline == 12 + 2 * 6
    assert len(together_server.calls("POST", "/v1/chat/completions")) == 2 * 12  # both orders
    # No key reaches the saved files.
    for path in (workspace.run_dir(run_id) / "eval").iterdir():
        assert openai_server.api_key not in path.read_text()


def test_together_run_without_a_judge_rests_on_the_metric(workspace, servers, capsys) -> None:
    run_id = _finished_run(workspace, "together", TOGETHER_BASE)
    out = _cli_json(workspace, capsys, "eval", run_id, "--no-forgetting")
    assert out["judge"] is None
    assert out["metrics"]["tuned"]["accuracy"] == 1.0
    assert out["verdict"].startswith(
        "tuned beats the zero-shot prompt: accuracy (label extracted) 1.00 vs 0.33 on 12 held-out examples"
    )
    assert main(["--project", str(workspace.root), "report", run_id]) == 0
    assert (workspace.reports_dir / f"{run_id}.html").is_file()
