"""Every field Together controls can carry the API key (a careless proxy echoing the Authorization
header, a hostile server): none of them may bring it to a file, an event, a status or the screen,
and each is typed before it is kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tuneui.core.backend import BackendError
from backends.together_ft import TogetherBackend
from tests.hosted.conftest import follow, make_spec, read_jsonl
from tests.hosted.fake_http import Recorded, Reply
from tests.hosted.fake_openai import FakeOpenAI
from tests.hosted.fake_together import FakeTogether

pytestmark = pytest.mark.integration  # local servers, child processes or torch

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
KEY = FakeTogether.api_key


class LeakyTogether(FakeTogether):
    """Puts the key into every provider-controlled field of jobs, events and metrics."""

    def __init__(self) -> None:
        super().__init__()
        self.retrieved: dict[str, int] = {}
        self.output_suffix = ""  # set: the completed job's model name carries it
        self.supported = [MODEL, f"org/model-{KEY}"]

    def _event(self, job_id: str, kind: str, message: str, level: str = "info", checkpoint_path: str = "") -> None:
        super()._event(job_id, kind, f"{message} (Authorization: Bearer {KEY})", level, f"{checkpoint_path}?token={KEY}" if checkpoint_path else "")
        self.events[job_id][-1].update(hash=f"h-{KEY}-{len(self.events[job_id])}", created_at=f"when {KEY}", step=KEY, total_steps=KEY)
        warning = {**self.events[job_id][-1], "type": f"WARNING_{KEY}", "level": KEY, "message": f"warning: {KEY}", "hash": f"w-{KEY}-{len(self.events[job_id])}"}
        self.events[job_id].append(warning)

    def _train_step(self, job_id: str) -> None:
        super()._train_step(job_id)
        self.metrics[job_id].append({"timestamp": KEY, "train/global_step": self._step[job_id], "train/loss": KEY})

    def _tick(self, job: dict[str, Any]) -> None:
        super()._tick(job)
        if job.get("model_output_name") and self.output_suffix:
            job["model_output_name"] += f"-{self.output_suffix}"

    def _retrieve(self, request: Recorded, match: Any) -> Reply:
        reply = super()._retrieve(request, match)
        self.retrieved[match["id"]] = self.retrieved.get(match["id"], 0) + 1
        if self.retrieved[match["id"]] == 2:  # one poll sees a status word tuneui does not know
            return Reply(body={**reply.body, "status": f"provisioning {KEY}"})
        return reply


@pytest.fixture
def leaky(monkeypatch: pytest.MonkeyPatch, project: Any):
    with LeakyTogether() as server:
        monkeypatch.setenv("TOGETHER_API_KEY", server.api_key)
        monkeypatch.setenv("TUNEUI_POLL_SECONDS", "0.01")
        settings = project.settings()
        settings.together.base_url = server.base_url
        project.save_settings(settings)
        yield server


def _cli(project, capsys, *args: str) -> str:
    from tuneui.cli import main

    capsys.readouterr()
    main(["--project", str(project.root), *args])
    out, err = capsys.readouterr()
    return out + err


def test_no_provider_field_brings_the_key_to_disk_events_status_or_screen(leaky, project, capsys) -> None:
    backend = TogetherBackend(project)
    readiness = backend.check(f"org/model-{KEY}")
    assert KEY not in json.dumps([readiness.reasons, readiness.notes])

    run_id = backend.start(make_spec(project, "together", model=MODEL))
    seen = []
    final = follow(backend, run_id)
    seen += [event.to_dict() for event in backend.events(run_id)]
    leaky.outcome = "error"
    failed_id = backend.start(make_spec(project, "together", model=MODEL))
    failed = follow(backend, failed_id)

    assert final.status == "succeeded" and failed.status == "failed"
    shown = json.dumps([seen, final.to_json(), final.detail, failed.error, failed.to_json()])
    shown += _cli(project, capsys, "status", run_id) + _cli(project, capsys, "status", failed_id) + _cli(project, capsys, "runs")
    assert KEY not in shown
    # Every provider-controlled field did arrive, redacted: the test would pass vacuously otherwise.
    events = read_jsonl(project.run_dir(run_id) / "events.jsonl")
    assert any("[redacted]" in e["data"].get("message", "") for e in events if e["type"] == "log")
    assert any("[redacted]" in (e["data"].get("path") or "") for e in events if e["type"] == "checkpoint")
    # Identifiers keep identifier characters only: "[redacted]" is written "?redacted?" there.
    assert any("?redacted?" in (e.get("id") or "") for e in events)
    assert any("?redacted?" in e["data"].get("kind", "") for e in events if e["type"] == "log")
    assert any("?redacted?" in str(e["data"].get("provider_status")) for e in events if e["type"] == "status")
    assert "[redacted]" in failed.error
    # ...and typed: a step, a loss and a time are numbers or absent, never the provider's string.
    assert all(isinstance(e["time"], float) for e in events)
    assert all(e["data"].get("step") is None or isinstance(e["data"]["step"], int) for e in events)
    assert all(isinstance(e["data"].get("train_loss", 0.0), float) for e in events if e["type"] == "metrics")
    assert all(e["data"].get("level") in ("info", "warn", "error") for e in events if e["type"] == "log")


def test_an_output_model_name_carrying_the_key_is_refused_not_stored(leaky, project) -> None:
    leaky.output_suffix = KEY
    backend = TogetherBackend(project)
    run_id = backend.start(make_spec(project, "together", model=MODEL))
    with pytest.raises(BackendError) as caught:
        follow(backend, run_id)
    assert "not an identifier" in caught.value.title and KEY not in str(caught.value)
    assert not (project.run_dir(run_id) / "model.json").exists()


class LeakyOpenAI(FakeOpenAI):
    """The same for the OpenAI wire: its event ids, levels, messages, checkpoint ids, status word
    and error carry the key; HostedBackend's one redaction point must catch them all."""

    def _event(self, job_id: str, message: str, kind: str = "message", data: dict | None = None, level: str = "info") -> None:
        super()._event(job_id, f"{message} {KEY}", kind, data, f"{level}-{KEY}")
        self.events[job_id][-1]["id"] += f"-{KEY}"

    def _step(self, job: dict[str, Any], progress: dict[str, Any]) -> None:
        super()._step(job, progress)
        for checkpoint in self.checkpoints[job["id"]]:
            if KEY not in checkpoint["id"]:
                checkpoint.update(id=f"{checkpoint['id']}-{KEY}", fine_tuned_model_checkpoint=f"ft:{KEY}")

    def _fail(self, job: dict[str, Any], code: str, message: str, param: str | None) -> None:
        super()._fail(job, f"{code}-{KEY}", f"{message} {KEY}", param)


def test_openai_fields_pass_the_same_redaction(project, monkeypatch, capsys) -> None:
    from backends.openai_ft import OpenAIBackend

    with LeakyOpenAI(unknown_status=f"warming-{KEY}") as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        monkeypatch.setenv("TUNEUI_POLL_SECONDS", "0.01")
        backend = OpenAIBackend(project)
        done = follow(backend, backend.start(make_spec(project, "openai")))
        server.outcome = "failed"
        failed = follow(backend, backend.start(make_spec(project, "openai")))
        shown = json.dumps([[e.to_dict() for e in backend.events(done.run_id)], done.to_json(), failed.error])
        shown += _cli(project, capsys, "status", done.run_id) + _cli(project, capsys, "runs")
    assert KEY not in shown and "[redacted]" in failed.error
    events = read_jsonl(project.run_dir(done.run_id) / "events.jsonl")
    assert any("?redacted?" in str(e["data"].get("provider_status")) for e in events if e["type"] == "status")
    assert any("[redacted]" in str(e["data"].get("model_id")) for e in events if e["type"] == "checkpoint")
