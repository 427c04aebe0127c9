"""The fault set Fireworks is held to (test_hosted_fireworks.py), for Together and Azure: `tuneui
train --wait --json` through a 429 with retry-after on every call kind and an ambiguous 500 on
create ends with exactly one job and every metric step, and `eval` answers through a 429; a job
that fails says the provider's reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.hosted.conftest import read_jsonl
from tests.hosted.fake_http import FakeServer
from tuneui.cli import main

pytestmark = pytest.mark.integration

LIMITED = {"status": 429, "headers": {"retry-after": "1"}}
TOGETHER_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
AZURE_MODEL = "gpt-4o-mini-2024-07-18"
# provider: (fixture, model, [(server attribute or None, method, path, fault)], chat path)
FAULTS: dict[str, tuple[str, str, list[tuple[str | None, str, str, dict[str, Any]]], str]] = {
    "together": ("fake_together", TOGETHER_MODEL, [
        (None, "POST", "/fine-tunes$", LIMITED),                                     # create
        (None, "POST", "/fine-tunes$", {"status": 500, "after_handling": True}),     # create, ambiguous
        (None, "GET", "/fine-tunes$", LIMITED),                                      # the lookup
        (None, "GET", "/fine-tunes/[^/]+$", LIMITED),                                # status
        (None, "GET", "/fine-tunes/[^/]+/events$", LIMITED),                         # events
        (None, "GET", "/fine-tunes/[^/]+/metrics$", LIMITED),                        # metrics
        (None, "GET", "/finetune/download$", LIMITED),                               # download
        ("storage", "GET", "/presigned/.*", LIMITED),                                # the adapter's bytes
        (None, "POST", "/chat/completions$", LIMITED),                               # inference
    ], "/v1/chat/completions"),
    "azure": ("fake_azure", AZURE_MODEL, [
        (None, "POST", "/openai/fine_tuning/jobs$", LIMITED),
        (None, "POST", "/openai/fine_tuning/jobs$", {"status": 500, "after_handling": True}),
        (None, "GET", "/openai/fine_tuning/jobs$", LIMITED),
        (None, "GET", "/openai/fine_tuning/jobs/[^/]+$", LIMITED),
        (None, "GET", "/openai/fine_tuning/jobs/[^/]+/events$", LIMITED),
        (None, "GET", "/openai/fine_tuning/jobs/[^/]+/checkpoints$", LIMITED),
        (None, "POST", "/openai/deployments/tuned/chat/completions$", LIMITED),
    ], "/openai/deployments/tuned/chat/completions"),
}  # fmt: skip


def _cli(project: Any, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--project", str(project.root), *argv])
    captured = capsys.readouterr()
    assert FakeServer.api_key not in captured.out + captured.err
    return code, captured.out, captured.err


@pytest.mark.parametrize("provider", FAULTS)
def test_every_call_kind_rate_limited_and_an_ambiguous_create_end_in_one_job_and_an_answering_eval(provider, project, capsys, request, monkeypatch) -> None:
    fixture, model, faults, chat_path = FAULTS[provider]
    fake = request.getfixturevalue(fixture)
    monkeypatch.setattr("backends.hosted.base.time.sleep", lambda seconds: None)
    for where, method, path, fault in faults:
        (getattr(fake, where) if where else fake).fail(method, path, **fault)

    code, out, err = _cli(project, capsys, "train", "--backend", provider, "--model", model, "--wait", "--json")

    shown = json.loads(out)
    assert code == 0 and shown["status"] == "succeeded", err
    assert list(fake.jobs) == [shown["job_id"]]
    events = read_jsonl(project.run_dir(shown["run_id"]) / "events.jsonl")
    assert sorted({e["data"]["step"] for e in events if e["type"] == "metrics" and "train_loss" in e["data"]}) == [1, 2, 3, 4]
    tuned = json.loads((project.run_dir(shown["run_id"]) / "model.json").read_text())
    if provider == "together":
        assert (project.run_dir(shown["run_id"]) / "adapter").is_dir()
    else:
        fake.deploy("base", AZURE_MODEL)
        fake.deploy("tuned", tuned["model_id"])
        settings = project.settings()
        settings.azure.deployments = {AZURE_MODEL: "base", tuned["model_id"]: "tuned"}
        project.save_settings(settings)

    code, out, err = _cli(project, capsys, "eval", shown["run_id"], "--no-judge", "--no-forgetting", "--json")
    assert code == 0, err
    assert len([r for r in fake.requests if r.path == chat_path]) > 1  # the 429 was waited out, then answered
    assert not fake.faults and not getattr(getattr(fake, "storage", None), "faults", None)  # every fault was met


@pytest.mark.parametrize(("provider", "reason"), [("together", "CUDA out of memory at step 2"), ("azure", "The job failed due to an internal error.")])
def test_a_failed_job_says_the_providers_reason(provider, reason, project, capsys, monkeypatch) -> None:
    from tests.hosted.fake_azure import API_VERSION, FakeAzure
    from tests.hosted.fake_together import FakeTogether

    server = FakeTogether(outcome="error") if provider == "together" else FakeAzure(outcome="failed")
    with server:
        monkeypatch.setenv("TOGETHER_API_KEY" if provider == "together" else "AZURE_OPENAI_API_KEY", server.api_key)
        monkeypatch.setenv("TUNEUI_POLL_SECONDS", "0.01")
        settings = project.settings()
        if provider == "together":
            settings.together.base_url = server.base_url
        else:
            settings.openai.azure_endpoint, settings.openai.api_version = server.azure_endpoint, API_VERSION
        project.save_settings(settings)
        model = TOGETHER_MODEL if provider == "together" else AZURE_MODEL
        code, out, err = _cli(project, capsys, "train", "--backend", provider, "--model", model, "--wait", "--json")
    shown = json.loads(out)
    assert code == 1 and shown["status"] == "failed" and reason in shown["error"] and reason in err
    assert len(server.jobs) == 1
