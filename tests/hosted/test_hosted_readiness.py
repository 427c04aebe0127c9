"""Readiness before spending: the key, the base model's shutdown date, OpenAI's dated notice, Azure."""

from __future__ import annotations

import pytest

import datetime as dt

import pytest

from backends.azure_ft import AzureOpenAIBackend
from backends.openai_ft import OpenAIBackend
from tests.hosted.conftest import follow, make_spec

BEFORE_CLOSING = dt.date(2026, 11, 23)


def _backend(project, today: dt.date = BEFORE_CLOSING) -> OpenAIBackend:
    backend = OpenAIBackend(project)
    backend.today = lambda: today
    return backend


def test_a_live_model_is_ready_with_the_dated_notices(fake_openai, project) -> None:
    readiness = _backend(project).check("gpt-4o-mini")
    assert readiness.ok, readiness.reasons
    notes = " ".join(readiness.notes)
    assert "2027-01-06" in notes and "2027-01-14" in notes


def test_a_shut_down_base_model_is_not_ready(fake_openai, project) -> None:
    readiness = _backend(project).check("gpt-4.1-nano")
    assert not readiness.ok
    assert any("2026-10-23" in reason for reason in readiness.reasons)


def test_the_models_list_shutdown_date_counts_for_any_model(fake_openai, project) -> None:
    fake_openai.models.append({"id": "gpt-5-mini-ft", "object": "model", "created": 0, "owned_by": "system", "shutdown_date": "2026-11-01"})
    readiness = _backend(project).check("gpt-5-mini-ft")
    assert not readiness.ok and any("per the provider's model list" in reason for reason in readiness.reasons)


@pytest.mark.parametrize("day", [dt.date(2027, 1, 6), dt.date(2027, 1, 7)])
def test_no_new_jobs_from_the_sixth_of_january_2027(fake_openai, project, day) -> None:
    readiness = _backend(project, day).check("gpt-4o-mini")
    assert not readiness.ok and any("no new fine-tuning jobs since 2027-01-06" in reason for reason in readiness.reasons)


def test_a_missing_key_says_how_to_provide_it(project, monkeypatch) -> None:
    monkeypatch.setattr("tuneui.core.secrets._from_keyring", lambda name: None)
    readiness = _backend(project).check("gpt-4o-mini")
    assert not readiness.ok
    assert "OPENAI_API_KEY" in readiness.reasons[0] and "keyring set tuneui OPENAI_API_KEY" in readiness.reasons[0]


def test_an_unlisted_model_is_a_note_not_a_refusal(fake_openai, project) -> None:
    readiness = _backend(project).check("my-unlisted-model")
    assert readiness.ok and any("not in this key's model list" in note for note in readiness.notes)


def test_poll_seconds_come_from_the_project_unless_the_environment_says_otherwise(project, monkeypatch) -> None:
    settings = project.settings()
    settings.hosted.poll_seconds = 7
    project.save_settings(settings)
    monkeypatch.delenv("TUNEUI_POLL_SECONDS", raising=False)
    assert OpenAIBackend(project).poll_seconds == 7
    monkeypatch.setenv("TUNEUI_POLL_SECONDS", "0.5")
    assert OpenAIBackend(project).poll_seconds == 0.5


def test_azure_needs_an_endpoint(project, monkeypatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key-0123456789")
    readiness = AzureOpenAIBackend(project).check("gpt-4o-mini")
    assert not readiness.ok and "azure_endpoint" in readiness.reasons[0]


def test_azure_runs_the_job_through_the_azure_client_and_its_key(fake_azure, project) -> None:
    backend = AzureOpenAIBackend(project)
    run_id = backend.start(make_spec(project, "azure"))
    assert follow(backend, run_id).status == "succeeded"
    assert all(r.path.startswith("/openai/") and r.query.get("api-version") == ["2025-04-01-preview"] for r in fake_azure.requests)
    assert all(r.headers.get("api-key") == fake_azure.api_key for r in fake_azure.requests)


@pytest.mark.integration
def test_hosted_modules_import_no_ui_no_ml_and_not_even_the_sdk() -> None:
    import subprocess
    import sys

    code = "import sys, backends.openai_ft, backends.azure_ft, backends.together_ft, tuneui.core.secrets; print(' '.join(sys.modules))"
    loaded = {name.split(".")[0] for name in subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()}
    assert not loaded & {"textual", "torch", "transformers", "peft", "trl", "bitsandbytes", "openai"}


def test_estimate_prices_the_exact_tokens_times_epochs(project) -> None:
    spec = make_spec(project, "openai", epochs=3)
    given = OpenAIBackend(project).estimate(spec, {"train_tokens": [100, 200, 300]})
    assert given.billed_tokens == 1800 and given.cost_usd and given.cost_usd > 0
    counted = OpenAIBackend(project).estimate(spec, {})
    assert counted.billed_tokens and counted.billed_tokens % 3 == 0
