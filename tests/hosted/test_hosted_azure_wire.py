"""Azure's wire rules on their own: the suffix rule, which listed job is this run's, the account in
the suggested command, and model lifecycle entries, including ones a provider got wrong."""

from __future__ import annotations

import datetime as dt

from tuneui.core.backend import TrainSpec
from backends.hosted import azure_wire
from backends.hosted.notices import azure_model_notes

FILES = {"train": "file-a", "validation": "file-b"}


def _spec(suffix: str | None) -> TrainSpec:
    return TrainSpec(run_id="r1", backend="azure", model="gpt-4o-mini-2024-07-18", train_file="t.jsonl", suffix=suffix)


def test_the_suffix_keeps_to_40_characters_of_azures_alphabet() -> None:
    assert azure_wire.suffix_of(_spec("tickets_v2-final")) == "tickets_v2-final"
    assert azure_wire.suffix_of(_spec("größe & co")) == "gr-e-co"
    assert len(azure_wire.suffix_of(_spec("x" * 80)) or "") == 40
    assert azure_wire.suffix_of(_spec("///")) is None and azure_wire.suffix_of(_spec(None)) is None


def test_only_a_job_on_this_runs_files_and_suffix_is_this_runs() -> None:
    job = {"id": "ftjob-1", "training_file": "file-a", "validation_file": "file-b", "suffix": "tickets"}
    assert azure_wire.is_this_runs_job(job, FILES, "tickets")
    assert azure_wire.is_this_runs_job({k: v for k, v in job.items() if k != "suffix"}, FILES, "tickets")
    assert not azure_wire.is_this_runs_job({**job, "training_file": "file-z"}, FILES, "tickets")
    assert not azure_wire.is_this_runs_job({**job, "validation_file": None}, FILES, "tickets")
    assert not azure_wire.is_this_runs_job({**job, "suffix": "other"}, FILES, "tickets")


def test_the_account_is_read_from_azure_endpoints_only() -> None:
    assert azure_wire.account_of("https://acme.openai.azure.com/") == "acme"
    assert azure_wire.account_of("https://acme-ai.cognitiveservices.azure.com") == "acme-ai"
    assert azure_wire.account_of("http://127.0.0.1:8080") is None


def test_model_lifecycle_entries_become_reasons_and_notes_without_a_traceback() -> None:
    today = dt.date(2026, 11, 28)
    soon = int(dt.datetime(2027, 3, 1, tzinfo=dt.timezone.utc).timestamp())
    past = int(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp())
    reasons, notes = azure_model_notes("m", {"lifecycle_status": "deprecating", "deprecation": {"fine_tune": soon}}, today)
    assert reasons == [] and "m is being deprecated on Azure OpenAI." in notes and any("2027-03-01" in n for n in notes)
    reasons, _ = azure_model_notes("m", {"deprecation": {"fine_tune": past}}, today)
    assert reasons == ["m: Azure ended fine-tuning on 2026-01-01 (per the model list)."]
    reasons, notes = azure_model_notes("m", {"capabilities": "yes", "deprecation": {"inference": "soon, sk-ant-0123456789abcdef0123"}}, today)
    assert reasons == [] and "not a date" in notes[0] and "sk-ant-0123456789abcdef0123" not in notes[0]
