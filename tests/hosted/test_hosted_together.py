"""Together AI against its fake: LoRA job, metrics, adapter download into the run folder, chat, faults."""

from __future__ import annotations

import json
import shutil

import pytest

from backends.together_ft import TogetherBackend
from tests.hosted.conftest import follow, make_spec, read_jsonl
from tests.hosted.fake_together import ADAPTER_FILES

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def test_full_run_downloads_the_adapter_and_chats_with_the_model(fake_together, project) -> None:
    backend = TogetherBackend(project)
    run_id = backend.start(make_spec(project, "together", model=MODEL, lora_r=8))
    final = follow(backend, run_id)

    assert final.status == "succeeded" and len(fake_together.jobs) == 1
    job = next(iter(fake_together.jobs.values()))
    events = read_jsonl(project.run_dir(run_id) / "events.jsonl")
    train_steps = [e["data"]["step"] for e in events if e["type"] == "metrics" and "train_loss" in e["data"]]
    valid_steps = [e["data"]["step"] for e in events if e["type"] == "metrics" and "valid_loss" in e["data"]]
    assert train_steps == [1, 2, 3, 4] and valid_steps == [2, 4]
    assert final.metrics["best_valid_loss"] == pytest.approx(2.3 / 4)
    assert any(e["type"] == "checkpoint" for e in events)

    adapter = project.run_dir(run_id) / "adapter"
    assert {p.name: p.read_bytes() for p in adapter.iterdir()} == ADAPTER_FILES
    model = json.loads((project.run_dir(run_id) / "model.json").read_text())
    assert model["model_id"] == job["model_output_name"] and model["path"] == str(adapter)

    ref = backend.result(run_id)
    assert backend.generate(ref, [[{"role": "user", "content": "hi"}]]) == [fake_together.chat_reply]
    assert "".join(backend.stream(ref, [{"role": "user", "content": "hi"}])).strip() == fake_together.chat_reply


def test_the_job_is_a_lora_fine_tune_with_the_uploaded_files(fake_together, project) -> None:
    backend = TogetherBackend(project)
    backend.start(make_spec(project, "together", model=MODEL, lora_r=8, lora_alpha=16))
    (create,) = fake_together.calls("POST", "/v1/fine-tunes")
    body = create.json
    assert body["training_type"] == {"type": "Lora", "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "lora_trainable_modules": "all-linear"}
    assert body["training_file"] in fake_together.files and body["validation_file"] in fake_together.files
    assert body["model"] == MODEL and body["n_epochs"] == 2 and body["n_evals"] > 0
    uploads = fake_together.calls("POST", "/v1/files/upload")
    assert [u.form["file_name"] for u in uploads] == ["train.jsonl", "val.jsonl"]


def test_a_500_after_the_job_was_made_leaves_exactly_one_job(fake_together, project) -> None:
    fake_together.fail("POST", r"/fine-tunes$", 502, after_handling=True)
    backend = TogetherBackend(project)
    run_id = backend.start(make_spec(project, "together", model=MODEL))
    assert len(fake_together.jobs) == 1 and len(fake_together.calls("POST", "/v1/fine-tunes")) == 1
    assert follow(backend, run_id).status == "succeeded"


def test_a_dropped_connection_during_upload_is_retried(fake_together, project) -> None:
    fake_together.fail("POST", r"/files/upload$", drop=True)
    backend = TogetherBackend(project)
    run_id = backend.start(make_spec(project, "together", model=MODEL))
    assert len(fake_together.jobs) == 1 and follow(backend, run_id).status == "succeeded"


def test_a_failed_job_reports_the_job_error_event(project, monkeypatch, fake_together) -> None:
    fake_together.outcome = "error"
    backend = TogetherBackend(project)
    final = follow(backend, backend.start(make_spec(project, "together", model=MODEL)))
    assert final.status == "failed" and "out of memory" in final.error


def test_cancel_goes_through_cancel_requested_to_cancelled(fake_together, project) -> None:
    backend = TogetherBackend(project)
    run_id = backend.start(make_spec(project, "together", model=MODEL))
    backend.cancel(run_id)
    recorded = json.loads((project.run_dir(run_id) / "status.json").read_text())
    assert recorded["provider_status"] == "cancel_requested" and recorded["status"] == "running"
    assert follow(backend, run_id).status == "cancelled"


def test_rate_limits_are_waited_out(fake_together, project) -> None:
    backend = TogetherBackend(project)
    run_id = backend.start(make_spec(project, "together", model=MODEL))
    fake_together.fail("GET", r"/fine-tunes/[^/]+$", 429, headers={"retry-after-ms": "300"})
    backend.events(run_id)
    assert "rate limited" in backend.status(run_id).detail
    assert follow(backend, run_id).status == "succeeded"


@pytest.mark.skipif(shutil.which("zstd") is None, reason="the zstd program is needed to make a .tar.zst")
def test_a_zstd_adapter_archive_is_unpacked(fake_together, project) -> None:
    fake_together.archive = "tar.zst"
    backend = TogetherBackend(project)
    run_id = backend.start(make_spec(project, "together", model=MODEL))
    follow(backend, run_id)
    assert sorted(p.name for p in (project.run_dir(run_id) / "adapter").iterdir()) == sorted(ADAPTER_FILES)


def test_missing_key_is_a_readiness_reason_with_the_way_to_set_it(project, monkeypatch) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    monkeypatch.setattr("tuneui.core.secrets._from_keyring", lambda name: None)
    readiness = TogetherBackend(project).check(MODEL)
    assert not readiness.ok and "TOGETHER_API_KEY" in readiness.reasons[0]


def test_a_dropped_adapter_download_keeps_the_run_going_until_the_adapter_is_there(fake_together, project) -> None:
    fake_together.fail("GET", r"/finetune/download$", drop=True)
    backend = TogetherBackend(project)
    run_id = backend.start(make_spec(project, "together", model=MODEL))
    final = follow(backend, run_id)
    assert final.status == "succeeded" and final.model_ref is not None
    assert len(fake_together.calls("GET", "/v1/finetune/download")) == 2
    assert (project.run_dir(run_id) / "adapter" / "adapter_config.json").is_file()


def test_readiness_comes_from_the_fine_tunable_model_list_and_its_limits(fake_together, project) -> None:
    readiness = TogetherBackend(project).check(MODEL)
    assert readiness.ok and any("LoRA rank up to 64" in note for note in readiness.notes)
    refused = TogetherBackend(project).check("meta-llama/Llama-3.3-70B-Instruct-Turbo")
    assert not refused.ok and "does not fine-tune meta-llama/Llama-3.3-70B-Instruct-Turbo" in refused.reasons[0]
    assert fake_together.calls("GET", "/v1/fine-tunes/models/supported") and not fake_together.calls("GET", "/v1/models")


def test_an_answer_of_the_wrong_shape_is_a_clear_error(fake_together, project) -> None:
    from backends.hosted.errors import ResponseShapeError

    backend = TogetherBackend(project)
    run_id = backend.start(make_spec(project, "together", model=MODEL))
    fake_together.fail("GET", r"/fine-tunes/[^/]+$", strip=("status",))
    with pytest.raises(ResponseShapeError, match="without its 'status' field"):
        backend.status(run_id)


def test_many_completions_come_back_in_order(fake_together, project) -> None:
    from tuneui.core.backend import ModelRef

    fake_together.echo = True
    questions = [f"question {i}" for i in range(12)]
    replies = TogetherBackend(project).generate(ModelRef("together", MODEL), [[{"role": "user", "content": q}] for q in questions])
    assert replies == questions
