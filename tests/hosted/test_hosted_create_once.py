"""Create-once, the same for every provider: whatever happens to the create request (a 500, a
dropped connection, a timeout after the provider made the job), a run ends with exactly one job,
and the tries between are spaced by the shared, jittered back-off."""

from __future__ import annotations

import pytest

from backends.hosted import backoff
from tuneui.core.providers import get_backend
from tests.hosted.conftest import make_spec

pytestmark = pytest.mark.integration  # local servers, child processes or torch

TOGETHER_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
PROVIDERS = {
    # backend name: (fixture, the create request's path, the model to train)
    "openai": ("fake_openai", "/fine_tuning/jobs$", "gpt-4o-mini-2024-07-18"),
    "azure": ("fake_azure", "/openai/fine_tuning/jobs$", "gpt-4o-mini-2024-07-18"),
    "together": ("fake_together", "/fine-tunes$", TOGETHER_MODEL),
}
# (fault, whether the provider made the job before the client saw it fail)
FAULTS = {
    "500-after-the-job-was-made": ({"status": 500, "after_handling": True}, True),
    "timeout-after-the-job-was-made": ({"drop": True, "after_handling": True}, True),
    "500-before": ({"status": 503}, False),
    "dropped-before": ({"drop": True}, False),
}


@pytest.mark.parametrize("fault_name", FAULTS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_ambiguous_create_leaves_exactly_one_job(provider, fault_name, project, request, monkeypatch) -> None:
    fixture, create_path, model = PROVIDERS[provider]
    fake = request.getfixturevalue(fixture)
    fault, made_anyway = FAULTS[fault_name]
    waits: list[float] = []
    monkeypatch.setattr("backends.hosted.base.time.sleep", waits.append)
    fake.fail("POST", create_path, **fault)
    backend = get_backend(provider, project)

    run_id = backend.start(make_spec(project, provider, model=model))

    job_id = backend.status(run_id).job_id
    assert list(fake.jobs) == [job_id]
    creates = [r for r in fake.requests if r.method == "POST" and r.path.endswith(create_path.rstrip("$"))]
    assert len(creates) == (1 if made_anyway else 2)
    # One wait before the second try: jittered below the back-off's base, not a fixed pause.
    assert len(waits) == 1 and 0 <= waits[0] <= backoff.RETRY_BASE_S


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_start_interrupted_after_the_create_request_finds_that_job_when_run_again(provider, project, request) -> None:
    fixture, create_path, model = PROVIDERS[provider]
    fake = request.getfixturevalue(fixture)
    spec = make_spec(project, provider, model=model)
    interrupted = get_backend(provider, project)

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as if tuneui were killed after the job was made, before its id was written

    interrupted._apply_status = killed
    with pytest.raises(KeyboardInterrupt):
        interrupted.start(spec)
    assert len(fake.jobs) == 1 and not project.run_dir(spec.run_id).joinpath("status.json").read_text().count('"job_id"')

    run_id = get_backend(provider, project).start(spec)

    assert list(fake.jobs) == [get_backend(provider, project).status(run_id).job_id]
    creates = [r for r in fake.requests if r.method == "POST" and r.path.endswith(create_path.rstrip("$"))]
    assert len(creates) == 1
