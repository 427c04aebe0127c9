"""OpenAI under faults: a run still ends with exactly one job, every metric kept once, and clear errors."""

from __future__ import annotations

import time

import pytest

from tuneui.core.backend import BackendError, NotReadyError
from backends.hosted.errors import ResponseShapeError
from backends.openai_ft import OpenAIBackend
from tests.hosted.conftest import follow, make_spec, read_jsonl


def _metric_steps(project, run_id: str) -> list[int]:
    return [e["data"]["step"] for e in read_jsonl(project.run_dir(run_id) / "events.jsonl") if e["type"] == "metrics"]


def test_a_500_after_the_job_was_made_adopts_that_job_instead_of_creating_another(fake_openai, project) -> None:
    fake_openai.fail("POST", r"/fine_tuning/jobs$", 500, after_handling=True)
    backend = OpenAIBackend(project)

    run_id = backend.start(make_spec(project, "openai"))
    final = follow(backend, run_id)

    assert len(fake_openai.jobs) == 1
    assert len(fake_openai.calls("POST", "/v1/fine_tuning/jobs")) == 1
    lookups = fake_openai.calls("GET", "/v1/fine_tuning/jobs")
    assert lookups and lookups[0].query["metadata[tuneui_run]"] == [run_id]
    assert final.status == "succeeded" and final.job_id == next(iter(fake_openai.jobs))
    assert _metric_steps(project, run_id) == [1, 2, 3, 4]


def test_a_500_before_the_job_was_made_creates_it_on_the_next_try(fake_openai, project) -> None:
    fake_openai.fail("POST", r"/fine_tuning/jobs$", 503)
    run_id = OpenAIBackend(project).start(make_spec(project, "openai"))
    assert len(fake_openai.jobs) == 1 and len(fake_openai.calls("POST", "/v1/fine_tuning/jobs")) == 2
    assert project.run_dir(run_id).joinpath("status.json").read_text().count(next(iter(fake_openai.jobs))) == 1


def test_a_dropped_connection_on_create_looks_the_job_up_first(fake_openai, project) -> None:
    fake_openai.fail("POST", r"/fine_tuning/jobs$", drop=True)
    OpenAIBackend(project).start(make_spec(project, "openai"))
    assert len(fake_openai.jobs) == 1
    assert fake_openai.calls("GET", "/v1/fine_tuning/jobs"), "the job list was not searched before creating again"


def test_a_dropped_connection_during_upload_is_retried_and_the_run_completes(fake_openai, project) -> None:
    fake_openai.fail("POST", r"/files$", drop=True)
    backend = OpenAIBackend(project)
    run_id = backend.start(make_spec(project, "openai"))
    assert follow(backend, run_id).status == "succeeded"
    assert len(fake_openai.jobs) == 1
    assert len(fake_openai.calls("POST", "/v1/files")) == 3  # train dropped once, then train and validation


def test_a_second_start_of_the_same_run_never_creates_a_second_job(fake_openai, project) -> None:
    backend = OpenAIBackend(project)
    spec = make_spec(project, "openai")
    backend.start(spec)
    OpenAIBackend(project).start(spec)
    assert len(fake_openai.jobs) == 1 and len(fake_openai.calls("POST", "/v1/files")) == 2


def test_rate_limited_polls_wait_for_retry_after_and_lose_nothing(fake_openai, project) -> None:
    backend = OpenAIBackend(project)
    run_id = backend.start(make_spec(project, "openai"))
    fake_openai.fail("GET", r"/fine_tuning/jobs/[^/]+$", 429, headers={"retry-after": "1"})

    started = time.monotonic()
    backend.events(run_id)
    status = backend.status(run_id)
    assert "rate limited" in (status.detail or "")
    polls_during_backoff = len(fake_openai.requests)
    for _ in range(5):
        backend.events(run_id)
        time.sleep(backend.poll_seconds)
    assert len(fake_openai.requests) == polls_during_backoff, "polled again before retry-after had passed"

    final = follow(backend, run_id)
    assert time.monotonic() - started >= 1.0
    assert final.status == "succeeded" and _metric_steps(project, run_id) == [1, 2, 3, 4]


def test_events_are_paged_newest_first_until_a_known_id(fake_openai, project, monkeypatch) -> None:
    monkeypatch.setattr("backends.openai_ft.EVENT_PAGE_SIZE", 2)
    fake_openai.steps = 7
    backend = OpenAIBackend(project)
    run_id = backend.start(make_spec(project, "openai"))
    backend.events(run_id)
    job_id = next(iter(fake_openai.jobs))
    fake_openai.advance(job_id, 5)  # many events pile up between two polls
    time.sleep(backend.poll_seconds)
    backend.events(run_id)

    pages = fake_openai.calls("GET", r"/v1/fine_tuning/jobs/[^/]+/events")
    assert any("after" in page.query for page in pages), "has_more was never followed"
    assert follow(backend, run_id).status == "succeeded"
    assert _metric_steps(project, run_id) == list(range(1, 8))
    stored = [e["id"] for e in read_jsonl(project.run_dir(run_id) / "events.jsonl") if e.get("id", "").startswith("ftevent")]
    assert stored == [e["id"] for e in fake_openai.events[job_id]]  # every provider event, once, oldest first


def test_an_unknown_status_is_shown_as_is_and_following_goes_on(fake_openai, project) -> None:
    fake_openai.unknown_status = "warming_up"
    backend = OpenAIBackend(project)
    run_id = backend.start(make_spec(project, "openai"))
    details = set()
    deadline = time.monotonic() + 10
    while (status := backend.status(run_id)).status != "succeeded" and time.monotonic() < deadline:
        details.add(status.detail)
        time.sleep(backend.poll_seconds)
    assert "warming_up" in details
    assert status.status == "succeeded"
    notes = [e["data"]["message"] for e in read_jsonl(project.run_dir(run_id) / "events.jsonl") if e["type"] == "log"]
    assert any("'warming_up'" in note for note in notes)


def test_a_job_failing_file_validation_ends_failed_with_the_reason(fake_openai, project) -> None:
    fake_openai.outcome = "validation_failed"
    backend = OpenAIBackend(project)
    final = follow(backend, backend.start(make_spec(project, "openai")))
    assert final.status == "failed"
    assert "invalid training file" in final.error and "training_file" in final.error


def test_cancel_stops_the_job_on_the_server(fake_openai, project) -> None:
    backend = OpenAIBackend(project)
    run_id = backend.start(make_spec(project, "openai"))
    backend.cancel(run_id)
    assert follow(backend, run_id).status == "cancelled"
    assert next(iter(fake_openai.jobs.values()))["status"] == "cancelled"
    with pytest.raises(BackendError, match="cannot resume a cancelled job"):
        backend.resume(run_id)


def test_pause_and_resume_go_through_the_api(fake_openai, project) -> None:
    backend = OpenAIBackend(project)
    run_id = backend.start(make_spec(project, "openai"))
    backend.pause(run_id)
    assert backend.status(run_id).detail == "paused"
    assert backend.resume(run_id) == run_id
    assert follow(backend, run_id).status == "succeeded"


def test_a_response_missing_fields_is_a_clear_error(fake_openai, project) -> None:
    backend = OpenAIBackend(project)
    run_id = backend.start(make_spec(project, "openai"))
    fake_openai.fail("GET", r"/fine_tuning/jobs/[^/]+$", strip=("status",))
    with pytest.raises(ResponseShapeError, match="without its 'status' field"):
        backend.status(run_id)


def test_an_eligibility_refusal_is_shown_as_is_with_a_way_out(fake_openai, project) -> None:
    fake_openai.fail("POST", r"/fine_tuning/jobs$", 403, headers={})
    fake_openai.faults[-1].status = 403
    with pytest.raises(NotReadyError) as caught:
        OpenAIBackend(project).start(make_spec(project, "openai"))
    assert "injected 403" in caught.value.title
    assert "tuneui estimate" in caught.value.hint and "--backend local" in caught.value.hint
    assert not fake_openai.jobs
