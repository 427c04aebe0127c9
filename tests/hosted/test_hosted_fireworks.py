"""Fireworks AI against its fake (shapes of the `fireworks-ai` 1.2.3 SDK): a job run to success
through every kind of fault, a job that fails with Fireworks' reason, the adapter downloaded and
answering, and the key nowhere."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from tuneui.core.providers import get_backend
from tests.hosted.conftest import follow, make_spec, read_jsonl
from tests.hosted.fake_fireworks import ACCOUNT, ADAPTER_FILES, FakeFireworks
from tests.hosted.fake_http import FakeServer
from tuneui.cli import main

pytestmark = pytest.mark.integration

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
LIMITED = {"status": 429, "headers": {"retry-after": "1"}}
JOBS = r"/v1/accounts/[^/]+/supervisedFineTuningJobs"


@pytest.fixture
def fireworks(monkeypatch: pytest.MonkeyPatch, project: Any) -> Iterator[FakeFireworks]:
    with FakeFireworks() as server:
        _point_at(server, monkeypatch, project)
        yield server


def _point_at(server: FakeFireworks, monkeypatch: pytest.MonkeyPatch, project: Any) -> None:
    monkeypatch.setenv("FIREWORKS_API_KEY", server.api_key)
    monkeypatch.setenv("TUNEUI_POLL_SECONDS", "0.01")
    settings = project.settings()
    settings.fireworks.account_id, settings.fireworks.base_url = ACCOUNT, server.root_url
    project.save_settings(settings)


def _cli(project: Any, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--project", str(project.root), *argv])
    captured = capsys.readouterr()
    for text in (captured.out, captured.err):
        assert FakeServer.api_key not in text
    return code, captured.out, captured.err


def test_train_wait_json_runs_to_success_through_every_kind_of_fault_and_eval_answers(fireworks, project, capsys, monkeypatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("backends.hosted.base.time.sleep", waits.append)
    fireworks.fail("POST", JOBS + "$", **LIMITED)  # create, before anything was made
    fireworks.fail("POST", JOBS + "$", status=500, after_handling=True)  # create, ambiguous: made, then 500
    fireworks.fail("GET", JOBS + "/[^/:]+$", **LIMITED)  # the lookup of the job that 500 may have made
    fireworks.fail("GET", JOBS + "/[^/:]+$", **LIMITED)  # following: the job's status
    fireworks.storage.fail("GET", r"/signed/.*-metrics\.jsonl$", **LIMITED)  # following: the metrics
    fireworks.fail("GET", r"/models/[^/]+:getDownloadEndpoint$", **LIMITED)  # the adapter's download
    fireworks.storage.fail("GET", r"/signed/.*/adapter_model\.safetensors$", **LIMITED)
    fireworks.fail("POST", "/inference/v1/chat/completions", **LIMITED)  # inference, during eval

    code, out, err = _cli(project, capsys, "train", "--backend", "fireworks", "--model", MODEL, "--epochs", "2", "--wait", "--json")

    shown = json.loads(out)
    assert code == 0 and shown["status"] == "succeeded", err
    assert list(fireworks.jobs) == [shown["job_id"]]  # exactly one job
    assert any(wait >= 1 for wait in waits)  # a retry-after was honoured
    run = project.run_dir(shown["run_id"])
    events = read_jsonl(run / "events.jsonl")
    assert [e["data"]["step"] for e in events if e["type"] == "metrics" and "train_loss" in e["data"]] == [1, 2, 3, 4]
    assert [e["data"]["step"] for e in events if e["type"] == "metrics" and "valid_loss" in e["data"]] == [2, 4]
    assert {p.name: p.read_bytes() for p in (run / "adapter").iterdir()} == ADAPTER_FILES
    model = json.loads((run / "model.json").read_text())
    assert model["model_id"] == f"accounts/{ACCOUNT}/models/{fireworks.jobs[shown['job_id']]['outputModel'].rsplit('/', 1)[-1]}"
    # Every request tuneui sent was one the fake, holding to the SDK's types, accepted: none refused as
    # malformed, unauthorised or a duplicate (the 404 of a lookup before the job exists is an answer).
    refused = [(r.method, r.path, reply.status) for r, reply in fireworks.replies if reply.status in (400, 401, 403, 409)]
    assert refused == []

    code, out, err = _cli(project, capsys, "eval", shown["run_id"], "--no-judge", "--no-forgetting", "--json")
    assert code == 0, err
    tuned_calls = [r for r in fireworks.calls("POST", "/inference/v1/chat/completions") if r.json["model"] == model["model_id"]]
    assert tuned_calls and json.loads(out)["metrics"]["tuned"]
    assert not fireworks.faults and not fireworks.storage.faults  # every fault was met


def test_a_job_that_fails_says_fireworks_reason_in_the_json_and_on_stderr(project, capsys, monkeypatch) -> None:
    with FakeFireworks(outcome="failed") as server:
        _point_at(server, monkeypatch, project)
        code, out, err = _cli(project, capsys, "train", "--backend", "fireworks", "--model", MODEL, "--wait", "--json")
    shown = json.loads(out)
    assert code == 1 and shown["status"] == "failed" and server.failure_reason in shown["error"] and server.failure_reason in err
    assert len(server.jobs) == 1


def test_a_tuned_model_fireworks_does_not_serve_answers_from_the_adapter_here(project, monkeypatch, tmp_path) -> None:
    base = tmp_path / "llama-3.1-8b"
    base.mkdir()
    with FakeFireworks(serves_tuned=False) as server:
        _point_at(server, monkeypatch, project)
        settings = project.settings()
        settings.fireworks.local_base_model = str(base)
        project.save_settings(settings)
        backend = get_backend("fireworks", project)
        run_id = backend.start(make_spec(project, "fireworks", model=MODEL))
        follow(backend, run_id)
        asked: list[Any] = []
        monkeypatch.setattr("backends.local.backend.LocalBackend.generate", lambda self, ref, convs, params=None: asked.append(ref) or ["from the adapter"] * len(convs))

        answers = backend.generate(backend.result(run_id), [[{"role": "user", "content": "hi"}]])

    assert answers == ["from the adapter"]
    assert asked[0].path == str(project.run_dir(run_id) / "adapter") and asked[0].base_model == str(base)
    assert json.loads((project.run_dir(run_id) / "status.json").read_text())["inference"] == "local-adapter"


def test_cancel_ends_the_job_cancelled(fireworks, project) -> None:
    backend = get_backend("fireworks", project)
    run_id = backend.start(make_spec(project, "fireworks", model=MODEL))
    backend.cancel(run_id)
    assert follow(backend, run_id).status == "cancelled"
    assert fireworks.calls("POST", JOBS + "/[^/]+:cancel")


def test_the_key_reaches_no_file_event_or_output_even_when_fireworks_echoes_it(project, capsys, monkeypatch) -> None:
    with FakeFireworks(outcome="failed") as server:
        server.failure_reason = f"bad key {FakeServer.api_key} in header"
        _point_at(server, monkeypatch, project)
        code, out, err = _cli(project, capsys, "train", "--backend", "fireworks", "--model", MODEL, "--wait", "--json")
        assert code == 1 and "[redacted]" in json.loads(out)["error"]
        code, out, _ = _cli(project, capsys, "status", json.loads(out)["run_id"], "--json")
    assert code == 0  # `_cli` checked every output; the hosted conftest checks every file of the project


def test_estimate_prices_fireworks_from_its_own_dated_rows(project, capsys) -> None:
    code, out, _ = _cli(project, capsys, "estimate", "--backend", "fireworks", "--model", "llama-v3p1-8b-instruct", "--json")
    row = json.loads(out)
    assert code == 0 and row["price_per_million"] == 0.5 and row["price_as_of"] == "2026-12-07" and row["epochs"] == 1


def test_a_hostile_adapter_file_name_is_refused_and_the_run_still_succeeds(fireworks, project, monkeypatch) -> None:
    monkeypatch.setitem(ADAPTER_FILES, "../../escape.sh", b"#!/bin/sh\n")
    backend = get_backend("fireworks", project)
    run_id = backend.start(make_spec(project, "fireworks", model=MODEL))

    assert follow(backend, run_id).status == "succeeded"

    run = project.run_dir(run_id)
    status = json.loads((run / "status.json").read_text())
    assert status["adapter_download"] == "failed" and "escape.sh" in status["adapter_error"]
    assert not (run / "adapter").exists() and not (run / "adapter.partial").exists()
    assert not list(project.root.parent.rglob("escape.sh"))
    assert backend.result(run_id).model_id  # the model on Fireworks still works


def test_a_metric_row_echoing_the_key_is_stored_redacted(fireworks, project) -> None:
    backend = get_backend("fireworks", project)
    run_id = backend.start(make_spec(project, "fireworks", model=MODEL))
    job_id = next(iter(fireworks.jobs))
    for _ in range(3):
        fireworks._tick(job_id)
    fireworks.metric_rows[job_id].append({"step": 99, "train_loss": FakeServer.api_key, "eval_loss": 0.25})

    follow(backend, run_id)

    events = read_jsonl(project.run_dir(run_id) / "events.jsonl")
    assert {"step": 99, "valid_loss": 0.25} in [e["data"] for e in events if e["type"] == "metrics"]
