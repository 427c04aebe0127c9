"""Azure OpenAI end to end against a fake shaped by its published API: a job without metadata,
Azure's statuses, suffix and event shapes, and a tuned model that answers only through a deployment."""

from __future__ import annotations

import json
import re

import pytest

from tuneui.core.backend import BackendError, ModelRef, NotReadyError
from backends.azure_ft import AzureOpenAIBackend
from backends.openai_ft import OpenAIBackend
from tests.hosted.conftest import follow, make_spec, read_jsonl

HI = [[{"role": "user", "content": "hi"}]]


def _trained(project) -> tuple[AzureOpenAIBackend, str, ModelRef]:
    backend = AzureOpenAIBackend(project)
    run_id = backend.start(make_spec(project, "azure"))
    assert follow(backend, run_id).status == "succeeded"
    return backend, run_id, backend.result(run_id)


def _name_deployment(project, model: str, deployment: str) -> None:
    settings = project.settings()
    settings.azure.deployments = {**settings.azure.deployments, model: deployment}
    project.save_settings(settings)


def _chat_calls(server) -> list:
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


def test_a_job_trains_with_azures_statuses_events_and_body(fake_azure, project) -> None:
    backend, run_id, ref = _trained(project)

    (create,) = fake_azure.calls("POST", "/openai/fine_tuning/jobs")
    assert "metadata" not in create.json and "method" not in create.json and "trainingType" not in create.json
    assert create.json["hyperparameters"] == {"n_epochs": 2}
    assert all(r.query.get("api-version") == ["2025-04-01-preview"] for r in fake_azure.requests)
    events = read_jsonl(project.run_dir(run_id) / "events.jsonl")
    statuses = [e["data"]["provider_status"] for e in events if e["type"] == "status"]
    assert statuses[:2] == ["pending", "running"] and statuses[-1] == "succeeded"
    assert [e["data"]["step"] for e in events if e["type"] == "metrics"] == [1, 2, 3, 4]
    assert all("total_steps" not in e["data"] for e in events if e["type"] == "metrics")
    assert any(e["type"] == "log" and e["data"]["level"] == "warn" and "truncated" in e["data"]["message"] for e in events)
    assert ref.model_id == next(iter(fake_azure.jobs.values()))["fine_tuned_model"]


def test_pausing_and_resuming_read_as_running_with_the_providers_word(fake_azure, project) -> None:
    backend = AzureOpenAIBackend(project)
    run_id = backend.start(make_spec(project, "azure"))
    backend.pause(run_id)
    status = backend.status(run_id)
    assert (status.status, status.detail) == ("running", "paused")
    backend.resume(run_id)
    assert follow(backend, run_id).status == "succeeded"
    events = read_jsonl(project.run_dir(run_id) / "events.jsonl")
    words = [e["data"]["provider_status"] for e in events if e["type"] == "status"]
    assert {"pausing", "paused", "resuming"} <= set(words)
    assert not any("does not know" in str(e["data"].get("message")) for e in events)


def test_a_suffix_azure_would_refuse_is_cleaned_to_its_rule(fake_azure, project) -> None:
    backend = AzureOpenAIBackend(project)
    backend.start(make_spec(project, "azure", suffix="support tickets/v2: the long-running experiment number 7"))
    (create,) = fake_azure.calls("POST", "/openai/fine_tuning/jobs")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", create.json["suffix"])
    assert create.json["suffix"].startswith("support-tickets-v2-the-long")
    assert len(fake_azure.jobs) == 1


@pytest.mark.parametrize("fault", [{"status": 500, "after_handling": True}, {"drop": True}, {"status": 500}])
def test_an_ambiguous_create_makes_exactly_one_job_without_metadata(fake_azure, project, fault) -> None:
    backend = AzureOpenAIBackend(project)
    other = backend.start(make_spec(project, "azure"))  # another run's job is in the list, and is not ours
    fake_azure.fail("POST", "/openai/fine_tuning/jobs$", **fault)

    run_id = backend.start(make_spec(project, "azure"))

    assert len(fake_azure.jobs) == 2
    ours = backend.status(run_id).job_id
    assert ours != backend.status(other).job_id and ours in fake_azure.jobs
    assert fake_azure.jobs[ours]["training_file"] == json.loads(project.run_dir(run_id).joinpath("status.json").read_text())["files"]["train"]
    listed = fake_azure.calls("GET", "/openai/fine_tuning/jobs")
    assert listed and all(set(r.query) <= {"api-version", "limit", "after"} for r in listed)
    assert all("metadata" not in (r.json or {}) for r in fake_azure.requests)


def test_a_tuned_model_without_a_deployment_says_how_to_make_one_before_any_call(fake_azure, project) -> None:
    backend, run_id, ref = _trained(project)

    with pytest.raises(NotReadyError) as caught:
        backend.generate(ref, HI)
    with pytest.raises(NotReadyError):
        "".join(backend.stream(ref, HI[0]))

    error = caught.value
    assert ref.model_id in error.title and "no Azure deployment" in error.title
    command = next(line.strip() for line in error.hint.splitlines() if line.strip().startswith("az "))
    assert command.startswith("az cognitiveservices account deployment create --resource-group <RESOURCE_GROUP> --name <ACCOUNT> ")
    assert f"--model-name {ref.model_id} --model-version 1 --model-format OpenAI --sku-name Standard --sku-capacity 1" in command
    assert "$1.70 per hour" in error.hint and "Entra" in error.hint
    assert f'"{ref.model_id}" = "tuneui-' in error.hint and "[azure.deployments]" in error.hint
    assert not _chat_calls(fake_azure)

    deployment = command.split("--deployment-name ")[1].split()[0]
    fake_azure.deploy(deployment, ref.model_id)  # what the user's `az` command does
    _name_deployment(project, ref.model_id, deployment)
    backend = AzureOpenAIBackend(project)
    assert backend.generate(ref, HI) == [fake_azure.chat_reply]
    assert "".join(backend.stream(ref, HI[0])) == fake_azure.chat_reply
    assert {r.path for r in _chat_calls(fake_azure)} == {f"/openai/deployments/{deployment}/chat/completions"}


def test_the_az_command_uses_the_resource_named_in_settings(fake_azure, project) -> None:
    backend, _, ref = _trained(project)
    settings = project.settings()
    settings.azure.resource_group, settings.azure.account, settings.azure.deployment_sku = "rg-ml", "acme-openai", "Developer"
    project.save_settings(settings)
    with pytest.raises(NotReadyError) as caught:
        AzureOpenAIBackend(project).require_callable(ref)
    assert "--resource-group rg-ml --name acme-openai " in caught.value.hint and "--sku-name Developer" in caught.value.hint
    assert "no hourly fee" in caught.value.hint and "<" not in caught.value.hint.split("Create one:")[1].split("then")[0]


def test_a_named_deployment_that_does_not_exist_is_explained(fake_azure, project) -> None:
    backend, _, ref = _trained(project)
    _name_deployment(project, ref.model_id, "typo-deployment")
    with pytest.raises(NotReadyError) as caught:
        AzureOpenAIBackend(project).generate(ref, HI)
    assert "no deployment named 'typo-deployment'" in caught.value.title
    assert "az cognitiveservices account deployment create" in caught.value.hint


def test_the_baseline_calls_the_base_models_deployment(fake_azure, project) -> None:
    fake_azure.deploy("mini", "gpt-4o-mini-2024-07-18")
    _name_deployment(project, "gpt-4o-mini-2024-07-18", "mini")
    backend = AzureOpenAIBackend(project)
    assert backend.generate(ModelRef("azure", "gpt-4o-mini-2024-07-18"), HI) == [fake_azure.chat_reply]
    assert [r.path for r in _chat_calls(fake_azure)] == ["/openai/deployments/mini/chat/completions"]


def test_a_base_model_with_no_deployment_of_its_name_is_explained(fake_azure, project) -> None:
    with pytest.raises(NotReadyError) as caught:
        AzureOpenAIBackend(project).generate(ModelRef("azure", "gpt-4o-mini-2024-07-18"), HI)
    assert "no deployment named 'gpt-4o-mini-2024-07-18'" in caught.value.title
    assert '"gpt-4o-mini-2024-07-18" = "<DEPLOYMENT>"' in caught.value.hint and "per token" in caught.value.hint


def test_training_type_is_sent_only_when_configured(fake_azure, project) -> None:
    settings = project.settings()
    settings.azure.training_type = "GlobalStandard"
    project.save_settings(settings)
    AzureOpenAIBackend(project).start(make_spec(project, "azure"))
    settings.azure.training_type = "1"
    project.save_settings(settings)
    AzureOpenAIBackend(project).start(make_spec(project, "azure"))
    named, numbered = fake_azure.calls("POST", "/openai/fine_tuning/jobs")
    assert named.json["trainingType"] == "GlobalStandard" and numbered.json["trainingType"] == 1


def test_readiness_reads_azures_lifecycle_dates_not_openais_notice(fake_azure, project) -> None:
    ready = AzureOpenAIBackend(project).check("gpt-4o-mini-2024-07-18")
    assert ready.ok and not any("2027-01-06" in note for note in ready.notes)
    assert any("ends fine-tuning on" in note for note in ready.notes)

    fake_azure.models[1].update(lifecycle_status="deprecated", deprecation={"fine_tune": 1_600_000_000, "inference": 1_900_000_000})
    fake_azure.models[0]["capabilities"]["fine_tune"] = False
    retired = AzureOpenAIBackend(project).check("gpt-4.1-2025-04-14")
    assert not retired.ok and any("deprecated" in r for r in retired.reasons) and any("2020-09-13" in r for r in retired.reasons)
    refused = AzureOpenAIBackend(project).check("gpt-4o-mini-2024-07-18")
    assert not refused.ok and "cannot be fine-tuned" in refused.reasons[0]


def test_the_openai_backend_refuses_a_project_set_up_for_azure(fake_azure, project) -> None:
    readiness = OpenAIBackend(project).check("gpt-4o-mini")
    assert not readiness.ok and "--backend azure" in readiness.reasons[0]


def test_a_rejected_azure_key_echoed_by_the_server_is_redacted(fake_azure, project, monkeypatch) -> None:
    wrong = "0123456789abcdef0123456789abcdef"  # Azure keys are 32 hex characters: no key shape to spot
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", wrong)
    backend = AzureOpenAIBackend(project)
    readiness = backend.check("gpt-4o-mini-2024-07-18")
    assert not readiness.ok and "Incorrect API key" in readiness.reasons[0] and wrong not in " ".join(readiness.reasons)
    with pytest.raises(BackendError) as caught:
        backend.start(make_spec(project, "azure"))
    assert "Incorrect API key" in str(caught.value) and wrong not in str(caught.value)
    assert not [p for p in project.root.rglob("*") if p.is_file() and wrong.encode() in p.read_bytes()]
