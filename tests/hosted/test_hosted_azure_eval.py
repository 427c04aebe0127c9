"""The Evaluate step on Azure OpenAI, through the CLI: without a deployment of the tuned model it
stops before any call and says how to make one; with deployments named it evaluates."""

from __future__ import annotations

import json
import time

import pytest

from tuneui.core.backend import TERMINAL_STATES, TrainSpec
from tuneui.core.providers import get_backend
from tests.evaluate.evalkit import many_tickets, write_split
from tests.hosted.fake_azure import API_VERSION, FakeAzure
from tuneui.cli import main

pytestmark = pytest.mark.integration  # local servers, child processes or torch

TRAIN, VAL = many_tickets(20), many_tickets(12, offset=20)
LABELS = dict(TRAIN + VAL)
BASE = "gpt-4o-mini-2024-07-18"


class TicketAzure(FakeAzure):
    """Deployments of the tuned model answer the right label; the base model says "question"."""

    def _chat_reply(self, body, model):
        question = (body.get("messages") or [{}])[-1].get("content", "")
        self.chat_reply = "Paris" if question not in LABELS else ("question" if model == BASE else LABELS[question])
        return super()._chat_reply(body, model)


@pytest.fixture
def azure(workspace, monkeypatch):
    with TicketAzure() as server:
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", server.api_key)
        monkeypatch.setenv("TUNEUI_POLL_SECONDS", "0.02")
        settings = workspace.settings()
        settings.openai.azure_endpoint, settings.openai.api_version = server.azure_endpoint, API_VERSION
        workspace.save_settings(settings)
        write_split(workspace, TRAIN, VAL)
        yield server


def _finished_run(workspace) -> str:
    backend = get_backend("azure", workspace)
    spec = TrainSpec(
        run_id=workspace.new_run_id(), backend="azure", model=BASE, train_file=str(workspace.train_file),
        val_file=str(workspace.val_file), epochs=1, suffix="tickets",
    )  # fmt: skip
    run_id = backend.start(spec)
    deadline = time.monotonic() + 20
    while backend.status(run_id).status not in TERMINAL_STATES:
        assert time.monotonic() < deadline, "the fake job did not finish"
        backend.events(run_id)
        time.sleep(0.02)
    return run_id


def test_eval_says_how_to_deploy_before_any_call_then_evaluates_through_deployments(workspace, azure, capsys) -> None:
    run_id = _finished_run(workspace)
    tuned = json.loads((workspace.run_dir(run_id) / "model.json").read_text())["model_id"]

    code = main(["--project", str(workspace.root), "eval", run_id, "--json"])
    err = capsys.readouterr().err
    assert code != 0 and "no Azure deployment" in err
    assert f"--model-name {tuned} --model-version 1" in err and "$1.70 per hour" in err
    assert not azure.calls("POST", "/openai/deployments/.*/chat/completions")  # not even the baseline ran

    azure.deploy("mini", BASE)
    azure.deploy("tickets-tuned", tuned)
    settings = workspace.settings()
    settings.azure.deployments = {BASE: "mini", tuned: "tickets-tuned"}
    workspace.save_settings(settings)
    assert main(["--project", str(workspace.root), "eval", run_id, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"]["tuned"]["accuracy"] == 1.0
    assert out["metrics"]["baseline"]["accuracy"] == round(4 / 12, 4)
    called = {r.path for r in azure.calls("POST", "/openai/deployments/.*/chat/completions")}
    assert called == {"/openai/deployments/mini/chat/completions", "/openai/deployments/tickets-tuned/chat/completions"}
