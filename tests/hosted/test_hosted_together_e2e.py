"""Together AI end to end through `tuneui`, against the spec-shaped fake on 127.0.0.1: what the
SDKs know and the spec does not (user_error, upper-case events), the download's presigned
redirect, and a damaged adapter archive that must leave every run readable."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from tuneui.core.backend import BackendError
from backends.together_ft import TogetherBackend
from tests.hosted.conftest import follow, make_spec, read_jsonl
from tests.hosted.fake_together import ADAPTER_FILES

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def _main(project, capsys, *args: str) -> tuple[int, str, str]:
    from tuneui.cli import main

    capsys.readouterr()
    code = main(["--project", str(project.root), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_wait_ends_with_the_reason_when_together_refuses_the_data(fake_together, project, capsys) -> None:
    fake_together.outcome, fake_together.event_case = "user_error", "upper"
    code, out, err = _main(project, capsys, "train", "--backend", "together", "--model", MODEL, "--wait", "--json")
    assert code == 1
    final = json.loads(out)
    assert final["status"] == "failed"
    status = json.loads((project.run_dir(final["run_id"]) / "status.json").read_text())
    assert "line 3 has no 'messages' field" in status["error"] and status["provider_status"] == "user_error"


@pytest.mark.parametrize("event_case", ["lower", "upper"])
def test_failure_reasons_and_checkpoints_are_read_in_either_casing(fake_together, project, event_case) -> None:
    fake_together.event_case = event_case
    backend = TogetherBackend(project)
    run_id = backend.start(make_spec(project, "together", model=MODEL))
    follow(backend, run_id)
    events = read_jsonl(project.run_dir(run_id) / "events.jsonl")
    assert [e["data"]["path"] for e in events if e["type"] == "checkpoint"] == [f"s3://ckpt/{next(iter(fake_together.jobs))}/4"]

    fake_together.outcome = "error"
    failed = follow(backend, backend.start(make_spec(project, "together", model=MODEL)))
    assert failed.status == "failed" and "CUDA out of memory" in failed.error


def test_the_adapter_comes_through_the_presigned_redirect_without_the_key(fake_together, project) -> None:
    backend = TogetherBackend(project)
    run_id = backend.start(make_spec(project, "together", model=MODEL))
    assert follow(backend, run_id).status == "succeeded"
    (fetched,) = fake_together.storage.calls("GET", "/presigned/[^/]+")
    assert "authorization" not in fetched.headers and fake_together.api_key not in json.dumps(fetched.headers)
    adapter = project.run_dir(run_id) / "adapter"
    assert {p.name: p.read_bytes() for p in adapter.iterdir()} == ADAPTER_FILES
    status = json.loads((project.run_dir(run_id) / "status.json").read_text())
    assert status["adapter_download"] == "done"


def _truncated_tar_gz() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        info = tarfile.TarInfo("adapter/adapter_model.safetensors")
        data = bytes(range(256)) * 4096
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()[:3000]


def test_a_damaged_archive_leaves_the_run_succeeded_and_every_command_working(fake_together, project, capsys) -> None:
    fake_together.adapter_archive = _truncated_tar_gz()
    backend = TogetherBackend(project)
    other = backend.start(make_spec(project, "together", model=MODEL))
    damaged = backend.start(make_spec(project, "together", model=MODEL))
    final = follow(backend, damaged)
    follow(backend, other)

    job = fake_together.jobs[json.loads((project.run_dir(damaged) / "status.json").read_text())["job_id"]]
    assert final.status == "succeeded" and final.model_ref.model_id == job["model_output_name"]
    status = json.loads((project.run_dir(damaged) / "status.json").read_text())
    assert status["adapter_download"] == "failed" and "damaged" in status["adapter_error"]
    assert not (project.run_dir(damaged) / "adapter").exists()
    warnings = [e["data"]["message"] for e in read_jsonl(project.run_dir(damaged) / "events.jsonl") if e["data"].get("level") == "warn"]
    assert any(f"tuneui train --resume {damaged}" in message for message in warnings)

    code, out, err = _main(project, capsys, "runs")
    assert code == 0, err
    listed = {line.split()[0]: line.split()[2] for line in out.splitlines()[1:]}
    assert listed[damaged] == "succeeded" and listed[other] == "succeeded"
    code, out, err = _main(project, capsys, "status", damaged, "--json")
    assert code == 0 and json.loads(out)["status"] == "succeeded", err

    # Once the provider serves a good archive, the command the warning names fetches the adapter.
    fake_together.adapter_archive = None
    code, out, err = _main(project, capsys, "train", "--resume", damaged, "--json")
    assert code == 0, err
    assert {p.name for p in (project.run_dir(damaged) / "adapter").iterdir()} == set(ADAPTER_FILES)
    model = json.loads((project.run_dir(damaged) / "model.json").read_text())
    assert model["path"] == str(project.run_dir(damaged) / "adapter") and model["model_id"] == job["model_output_name"]


def test_back_off_honours_retry_after_and_is_jittered_otherwise(monkeypatch) -> None:
    from backends.hosted import backoff as base
    from backends.hosted.errors import ProviderUnavailableError, RateLimitedError

    monkeypatch.setattr(base, "RETRY_BASE_S", 0.5)
    told = [base.backoff_seconds(0, RateLimitedError("Together AI", 2.0)) for _ in range(50)]
    assert all(2.0 <= wait <= 2.2 for wait in told) and len(set(told)) > 1
    assert base.backoff_seconds(0, RateLimitedError("Together AI", 10_000.0)) == base.RETRY_MAX_S
    guessed = [base.backoff_seconds(2, ProviderUnavailableError("down")) for _ in range(50)]
    assert all(0.0 <= wait <= 2.0 for wait in guessed) and len(set(guessed)) > 1


def test_a_rate_limited_create_waits_the_retry_after_ms_then_makes_one_job(fake_together, project, monkeypatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("backends.hosted.base.time.sleep", waits.append)
    fake_together.fail("POST", r"/fine-tunes$", 429, headers={"retry-after-ms": "1500"})
    TogetherBackend(project).start(make_spec(project, "together", model=MODEL))
    assert len(fake_together.jobs) == 1 and len(waits) == 1 and 1.5 <= waits[0] <= 1.65


def test_the_price_is_asked_of_together_before_the_job_and_an_unaffordable_job_is_never_made(fake_together, project) -> None:
    backend = TogetherBackend(project)
    run_id = backend.start(make_spec(project, "together", model=MODEL, epochs=3))
    (quote,) = fake_together.calls("POST", "/v1/fine-tunes/estimate-price")
    assert quote.json["n_epochs"] == 3 and quote.json["n_evals"] == 10 and quote.json["validation_file"]
    status = json.loads((project.run_dir(run_id) / "status.json").read_text())
    assert status["quoted_usd"] > 0 and status["quoted_tokens"]["eval"] > 0
    assert any("estimates this job at $" in e["data"].get("message", "") for e in read_jsonl(project.run_dir(run_id) / "events.jsonl"))

    fake_together.jobs.clear()
    fake_together.allowed_to_proceed = False
    refused = make_spec(project, "together", model=MODEL)
    with pytest.raises(BackendError, match="over what the account may spend"):
        backend.start(refused)
    assert fake_together.jobs == {} and backend.status(refused.run_id).status == "failed"
    with pytest.raises(BackendError, match="over what the account may spend"):
        backend.start(refused)  # the same run started again is asked about again
    assert fake_together.jobs == {}


def _trained(backend: TogetherBackend, project) -> tuple[str, object]:
    run_id = backend.start(make_spec(project, "together", model=MODEL))
    follow(backend, run_id)
    return run_id, backend.result(run_id)


def test_a_serverless_fine_tune_is_evaluated_there_and_the_run_says_so(fake_together, project) -> None:
    backend = TogetherBackend(project)
    run_id, ref = _trained(backend, project)
    assert backend.generate(ref, [[{"role": "user", "content": "hi"}]] * 3) == [fake_together.chat_reply] * 3
    assert json.loads((project.run_dir(run_id) / "status.json").read_text())["inference"] == "serverless"


def test_without_serverless_or_a_local_base_model_eval_says_both_ways_out_before_any_reply(fake_together, project) -> None:
    fake_together.serverless_lora = False
    backend = TogetherBackend(project)
    run_id, ref = _trained(backend, project)
    with pytest.raises(BackendError, match="only on a dedicated endpoint") as caught:
        backend.generate(ref, [[{"role": "user", "content": "hi"}]] * 3)
    assert "local_base_model" in caught.value.hint
    # The price of the endpoint way out, before anything is started: the cheapest hardware available.
    assert "$0.11/min ($6.50/h) on 2x_nvidia_h100_80gb_sxm" in caught.value.hint
    assert "endpoint_max_cents_per_minute = 10.84" in caught.value.hint and fake_together.endpoints == {}
    assert len(fake_together.calls("POST", "/v1/chat/completions")) == 1  # one probe, not one per example


def test_without_serverless_the_downloaded_adapter_runs_locally_on_the_base_model_here(fake_together, project, monkeypatch) -> None:
    from backends.local.backend import LocalBackend

    calls: list[tuple[object, int]] = []
    monkeypatch.setattr(LocalBackend, "generate", lambda self, model, conversations, params=None: calls.append((model, len(conversations))) or ["local"] * len(conversations))
    monkeypatch.setattr(LocalBackend, "stream", lambda self, model, conversation, params=None: iter(["local ", "stream"]))
    base = project.root / "models" / "llama-8b"
    base.mkdir(parents=True)
    (base / "config.json").write_text("{}")
    settings = project.settings()
    settings.together.local_base_model = str(base)
    project.save_settings(settings)
    fake_together.serverless_lora = False
    backend = TogetherBackend(project)
    run_id, ref = _trained(backend, project)

    assert backend.generate(ref, [[{"role": "user", "content": "hi"}]] * 2) == ["local", "local"]
    assert TogetherBackend(project).generate(ref, [[{"role": "user", "content": "again"}]]) == ["local"]
    local_ref = calls[0][0]
    assert (local_ref.kind, local_ref.path, local_ref.base_model) == ("adapter", str(project.run_dir(run_id) / "adapter"), str(base))
    assert len(fake_together.calls("POST", "/v1/chat/completions")) == 1  # the path found is kept
    status = json.loads((project.run_dir(run_id) / "status.json").read_text())
    assert status["inference"] == "local-adapter"
    # Chat streams from the same place, whether it finds the way itself or reuses it.
    assert "".join(TogetherBackend(project).stream(ref, [{"role": "user", "content": "hi"}])) == "local stream"
    (project.run_dir(run_id) / "status.json").write_text(json.dumps({**status, "inference": None}))
    assert "".join(TogetherBackend(project).stream(ref, [{"role": "user", "content": "hi"}])) == "local stream"
    assert len(fake_together.calls("POST", "/v1/chat/completions")) == 2


def test_a_download_over_the_configured_limit_is_stopped_and_marked_failed(fake_together, project) -> None:
    settings = project.settings()
    settings.hosted.adapter_max_gib = 100_000 / 1024**3  # 100 kB
    project.save_settings(settings)
    fake_together.adapter_archive = b"\x1f\x8b" + bytes(300_000)
    backend = TogetherBackend(project)
    run_id = backend.start(make_spec(project, "together", model=MODEL))
    assert follow(backend, run_id).status == "succeeded"
    status = json.loads((project.run_dir(run_id) / "status.json").read_text())
    assert status["adapter_download"] == "failed" and "larger than" in status["adapter_error"]
    assert sorted(p.name for p in project.run_dir(run_id).iterdir() if "adapter" in p.name) == []


def test_with_consent_at_its_price_an_endpoint_serves_the_evaluation_and_is_stopped_at_the_end(fake_together, project, monkeypatch) -> None:
    from backends.hosted import together_endpoint

    stops: list = []
    monkeypatch.setattr(together_endpoint.atexit, "register", lambda function, *args: stops.append((function, args)))
    settings = project.settings()
    settings.together.endpoint_max_cents_per_minute = 10.84
    project.save_settings(settings)
    fake_together.serverless_lora = False
    backend = TogetherBackend(project)
    run_id, ref = _trained(backend, project)

    assert backend.generate(ref, [[{"role": "user", "content": "hi"}]] * 3) == [fake_together.chat_reply] * 3
    assert "".join(backend.stream(ref, [{"role": "user", "content": "hi"}])).strip() == fake_together.chat_reply
    (endpoint,) = fake_together.endpoints.values()
    assert endpoint["hardware"] == "2x_nvidia_h100_80gb_sxm" and endpoint["state"] == "STARTED"
    (create,) = fake_together.calls("POST", "/v1/endpoints")
    assert create.json["inactive_timeout"] == together_endpoint.IDLE_STOP_MINUTES  # Together stops it if we die
    status = json.loads((project.run_dir(run_id) / "status.json").read_text())
    assert status["inference"] == "dedicated-endpoint" and status["endpoint"]["id"] == endpoint["id"]

    for function, args in stops:  # what happens when the process ends
        function(*args)
    assert endpoint["state"] == "STOPPED"
    # The next evaluation (a new process) starts the same endpoint again, with the same consent.
    assert TogetherBackend(project).generate(ref, [[{"role": "user", "content": "again"}]]) == [fake_together.chat_reply]
    assert len(fake_together.endpoints) == 1 and endpoint["state"] == "STARTED"


def test_a_ceiling_below_the_price_is_no_consent(fake_together, project) -> None:
    settings = project.settings()
    settings.together.endpoint_max_cents_per_minute = 5.0
    project.save_settings(settings)
    fake_together.serverless_lora = False
    backend = TogetherBackend(project)
    _, ref = _trained(backend, project)
    with pytest.raises(BackendError, match="only on a dedicated endpoint"):
        backend.generate(ref, [[{"role": "user", "content": "hi"}]])
    assert fake_together.endpoints == {}


def test_an_endpoint_deleted_meanwhile_is_made_anew_not_an_error(fake_together, project, monkeypatch) -> None:
    from backends.hosted import together_endpoint

    monkeypatch.setattr(together_endpoint.atexit, "register", lambda function, *args: None)
    settings = project.settings()
    settings.together.endpoint_max_cents_per_minute = 20
    project.save_settings(settings)
    fake_together.serverless_lora = False
    backend = TogetherBackend(project)
    _, ref = _trained(backend, project)
    backend.generate(ref, [[{"role": "user", "content": "hi"}]])
    fake_together.endpoints.clear()  # deleted by hand at together.ai
    assert TogetherBackend(project).generate(ref, [[{"role": "user", "content": "hi"}]]) == [fake_together.chat_reply]
    assert len(fake_together.endpoints) == 1 and len(fake_together.calls("POST", "/v1/endpoints")) == 2
