"""The four breaks found against servers that behave as Together and Azure document, and the two
"also" items (issue 22), each shown through what a user runs."""

from __future__ import annotations

import json

import pytest

from tuneui.core.providers import get_backend
from tests.hosted.conftest import follow, make_spec, read_jsonl
from tuneui.cli import main

pytestmark = pytest.mark.integration

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def _train(project, capsys, backend: str, model: str, *extra: str) -> tuple[int, dict, str]:
    code = main(["--project", str(project.root), "train", "--backend", backend, "--model", model, *extra, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_together_create_answered_500_then_a_rate_limited_lookup_still_follows_the_one_job(fake_together, project, capsys, monkeypatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("backends.hosted.base.time.sleep", waits.append)
    fake_together.fail("POST", "/fine-tunes$", status=500, after_handling=True)
    fake_together.fail("GET", "/fine-tunes$", status=429, headers={"retry-after": "2"})

    code, out, _ = _train(project, capsys, "together", MODEL, "--wait")

    assert code == 0 and out["status"] == "succeeded" and out["job_id"] == next(iter(fake_together.jobs))
    assert len(fake_together.jobs) == 1
    assert any(wait >= 2 for wait in waits)  # the provider's retry-after was honoured before looking again
    # A second `tuneui train` of the same data is a new run, but this one never said "failed".
    assert json.loads((project.run_dir(out["run_id"]) / "status.json").read_text())["status"] == "succeeded"


def test_together_eval_survives_a_429_from_the_inference_endpoint(fake_together, project, monkeypatch) -> None:
    backend = get_backend("together", project)
    run_id = backend.start(make_spec(project, "together", model=MODEL))
    ref = follow(backend, run_id) and backend.result(run_id)
    fake_together.fail("POST", "/chat/completions", status=429, headers={"retry-after": "0"})

    answers = backend.generate(ref, [[{"role": "user", "content": f"q{i}"}] for i in range(3)])

    assert answers == [fake_together.chat_reply] * 3


def test_together_status_after_an_unwatched_job_ended_has_every_metric_step(fake_together, project, capsys) -> None:
    code, out, _ = _train(project, capsys, "together", MODEL)  # no --wait: nobody follows the job
    assert code == 0
    job_id = out["job_id"]
    for _ in range(20):  # the job runs to its end on the provider, unwatched
        fake_together._tick(fake_together.jobs[job_id])
    assert fake_together.jobs[job_id]["status"] == "completed"

    assert main(["--project", str(project.root), "status", out["run_id"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "succeeded"
    events = read_jsonl(project.run_dir(out["run_id"]) / "events.jsonl")
    steps = sorted({e["data"]["step"] for e in events if e["type"] == "metrics" and "train_loss" in e["data"]})
    assert steps == [1, 2, 3, 4]
    assert shown["metrics"]["last_train_loss"] == 0.5


def test_an_azure_job_without_its_status_is_named_as_azures(fake_azure, project, capsys) -> None:
    run_id = get_backend("azure", project).start(make_spec(project, "azure"))
    fake_azure.fail("GET", r"/openai/fine_tuning/jobs/[^/]+$", strip=("status",))

    code = main(["--project", str(project.root), "status", run_id])

    err = capsys.readouterr().err
    assert code == 2 and "Azure OpenAI returned a fine-tuning job without its 'status' field" in err


def test_train_wait_json_on_a_failed_job_says_why_in_the_json_and_on_stderr(project, capsys, monkeypatch) -> None:
    from tests.hosted.fake_together import FakeTogether

    with FakeTogether(outcome="error") as server:
        monkeypatch.setenv("TOGETHER_API_KEY", server.api_key)
        monkeypatch.setenv("TUNEUI_POLL_SECONDS", "0.01")
        settings = project.settings()
        settings.together.base_url = server.base_url
        project.save_settings(settings)
        code, out, err = _train(project, capsys, "together", MODEL, "--wait")

    assert code == 1 and out["status"] == "failed"
    assert "CUDA out of memory at step 2" in out["error"]
    assert "CUDA out of memory at step 2" in err


def test_a_misspelt_azure_deployment_is_found_before_the_baseline_spends(project, capsys, monkeypatch) -> None:
    from tests.hosted.fake_azure import API_VERSION, FakeAzure

    with FakeAzure() as server:
        monkeypatch.setenv("AZURE_OPENAI_API_KEY", server.api_key)
        monkeypatch.setenv("TUNEUI_POLL_SECONDS", "0.01")
        settings = project.settings()
        settings.openai.azure_endpoint, settings.openai.api_version = server.azure_endpoint, API_VERSION
        project.save_settings(settings)
        backend = get_backend("azure", project)
        run_id = backend.start(make_spec(project, "azure"))
        follow(backend, run_id)
        tuned = backend.result(run_id).model_id
        server.deploy("mini", "gpt-4o-mini-2024-07-18")
        server.deploy("tickets-v1", tuned)
        settings = project.settings()
        settings.azure.deployments = {"gpt-4o-mini-2024-07-18": "mini", tuned: "tickets-v2"}  # misspelt
        project.save_settings(settings)

        code = main(["--project", str(project.root), "eval", run_id, "--no-judge", "--no-forgetting", "--json"])
        err = capsys.readouterr().err

        assert code != 0 and "tickets-v2" in err
        assert not server.calls("POST", "/openai/deployments/mini/chat/completions")  # the baseline spent nothing


def test_together_a_lookup_rate_limited_past_every_retry_keeps_the_run_and_status_finds_the_job(fake_together, project, capsys, monkeypatch) -> None:
    monkeypatch.setattr("backends.hosted.base.time.sleep", lambda seconds: None)
    fake_together.fail("POST", "/fine-tunes$", status=500, after_handling=True)
    fake_together.fail("GET", "/fine-tunes$", status=429, headers={"retry-after": "0"}, times=3)

    code = main(["--project", str(project.root), "train", "--backend", "together", "--model", MODEL, "--json"])
    err = capsys.readouterr().err

    assert code != 0 and "may have made the job" in err and "tuneui status" in err
    run_id = next(p.name for p in project.runs_dir.iterdir())
    assert json.loads((project.run_dir(run_id) / "status.json").read_text())["status"] != "failed"
    assert main(["--project", str(project.root), "status", run_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["job_id"] == next(iter(fake_together.jobs))
    backend = get_backend("together", project)
    assert follow(backend, run_id).status == "succeeded" and len(fake_together.jobs) == 1


def test_together_an_unconfirmed_create_that_made_nothing_fails_the_run_at_the_next_status(fake_together, project, capsys, monkeypatch) -> None:
    monkeypatch.setattr("backends.hosted.base.time.sleep", lambda seconds: None)
    fake_together.fail("POST", "/fine-tunes$", status=500)  # before the work: nothing made
    fake_together.fail("GET", "/fine-tunes$", status=429, headers={"retry-after": "0"}, times=3)

    assert main(["--project", str(project.root), "train", "--backend", "together", "--model", MODEL, "--json"]) != 0
    run_id = next(p.name for p in project.runs_dir.iterdir())
    capsys.readouterr()
    main(["--project", str(project.root), "status", run_id, "--json"])
    assert json.loads(capsys.readouterr().out)["status"] == "failed" and not fake_together.jobs
