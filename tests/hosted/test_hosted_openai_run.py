"""A full OpenAI run against the fake server: upload -> job -> every metric event -> model -> chat."""

from __future__ import annotations

import json

import pytest

from tuneui.core.backend import GenerationParams, ModelRef
from backends.openai_ft import OpenAIBackend
from tests.hosted.conftest import follow, make_spec, read_jsonl


def test_full_run_keeps_every_metric_once_and_chats_with_the_model(fake_openai, project) -> None:
    backend = OpenAIBackend(project)
    spec = make_spec(project, "openai")

    run_id = backend.start(spec)
    final = follow(backend, run_id)

    assert final.status == "succeeded"
    job = next(iter(fake_openai.jobs.values()))
    assert final.job_id == job["id"] and len(fake_openai.jobs) == 1
    run_dir = project.run_dir(run_id)
    status = json.loads((run_dir / "status.json").read_text())
    assert set(status["files"]) == {"train", "validation"}
    events = read_jsonl(run_dir / "events.jsonl")
    metric_steps = [e["data"]["step"] for e in events if e["type"] == "metrics"]
    assert metric_steps == list(range(1, fake_openai.steps + 1))
    ids = [e["id"] for e in events if "id" in e]
    assert len(ids) == len(set(ids))
    last = [e for e in events if e["type"] == "metrics"][-1]["data"]
    assert {"train_loss", "valid_loss", "full_valid_loss", "train_mean_token_accuracy", "total_steps"} <= set(last)
    assert [e["data"]["step"] for e in events if e["type"] == "checkpoint"] == [2, 4]
    model = json.loads((run_dir / "model.json").read_text())
    assert model["model_id"] == job["fine_tuned_model"] and model["kind"] == "hosted"
    assert final.metrics["steps"] == fake_openai.steps and final.metrics["last_valid_loss"] is not None

    ref = backend.result(run_id)
    assert backend.generate(ref, [[{"role": "user", "content": "hi"}]]) == [fake_openai.chat_reply]
    assert "".join(backend.stream(ref, [{"role": "user", "content": "hi"}])) == fake_openai.chat_reply


def test_the_job_is_created_with_the_supervised_method_and_run_metadata(fake_openai, project) -> None:
    backend = OpenAIBackend(project)
    spec = make_spec(project, "openai", epochs=3, batch_size=8, seed=7)
    backend.start(spec)

    (create,) = fake_openai.calls("POST", "/v1/fine_tuning/jobs")
    body = create.json
    assert body["method"] == {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": 8}}}
    assert "hyperparameters" not in body
    assert body["metadata"] == {"tuneui_run": spec.run_id}
    assert body["suffix"] == "tickets" and body["seed"] == 7
    uploads = fake_openai.calls("POST", "/v1/files")
    assert [u.form["purpose"] for u in uploads] == ["fine-tune", "fine-tune"]
    assert uploads[0].form["file"] == project.train_file.read_bytes()


def test_a_failed_job_reports_the_providers_error_object(fake_openai, project) -> None:
    fake_openai.outcome = "failed"
    backend = OpenAIBackend(project)
    run_id = backend.start(make_spec(project, "openai"))
    final = follow(backend, run_id)
    assert final.status == "failed"
    assert "internal error" in final.error and "server_error" in final.error
    with pytest.raises(Exception, match="no model yet"):
        backend.result(run_id)


def test_generate_on_a_base_model_uses_chat_completions(fake_openai, project) -> None:
    backend = OpenAIBackend(project)
    ref = ModelRef("openai", "gpt-4o-mini")
    assert backend.generate(ref, [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]], GenerationParams(stop=("\n",))) == [fake_openai.chat_reply] * 2
    bodies = [c.json for c in fake_openai.calls("POST", "/v1/chat/completions")]
    assert bodies[0]["model"] == "gpt-4o-mini" and bodies[0]["stop"] == ["\n"]


def test_many_completions_run_concurrently_and_come_back_in_order(fake_openai, project) -> None:
    fake_openai.echo = True
    questions = [f"question {i}" for i in range(20)]
    replies = OpenAIBackend(project).generate(ModelRef("openai", "gpt-4o-mini"), [[{"role": "user", "content": q}] for q in questions])
    assert replies == questions
