"""Numbers an OpenAI or Azure server controls (an event's `created_at`, a metric's step, its
total_steps and losses, a checkpoint's time and metrics, a job's trained_tokens) may be anything: text, NaN, 1e308.
None of them may stop `status` from following the run; what is not a number is dropped, and
the event that carried it is kept."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from tuneui.core.providers import get_backend
from tests.hosted.conftest import follow, make_spec, read_jsonl

pytestmark = pytest.mark.integration  # local servers, child processes or torch

LATEST_TIME = 253402300799  # 9999-12-31: any later time cannot be shown as a date


def _hostile(fake: Any) -> None:
    """Make `fake` send wrong numbers in its events and checkpoints from now on."""
    plain_event, plain_step, plain_succeed = fake._event, fake._step, fake._succeed

    def event(job_id: str, message: str, kind: str = "message", data: dict | None = None, level: str = "info") -> None:
        plain_event(job_id, message, kind, data, level)
        sent = fake.events[job_id][-1]
        count = len(fake.events[job_id])
        sent["created_at"] = ["yesterday", float("nan"), 1e308, -5, "1e999"][count % 5]
        if kind == "metrics" and sent["data"]["step"] == 2:
            sent["data"].update(total_steps="many", train_loss="low", valid_loss=float("nan"))
        if kind == "metrics" and sent["data"]["step"] == 3:
            sent["data"]["step"] = "three"

    def step(job: dict[str, Any], progress: dict[str, Any]) -> None:
        plain_step(job, progress)
        for checkpoint in fake.checkpoints[job["id"]]:
            checkpoint.update(created_at="yesterday", metrics={"train_loss": "low", "valid_loss": 0.5})

    def succeed(job: dict[str, Any]) -> None:
        plain_succeed(job)
        job["trained_tokens"] = "lots"

    fake._event, fake._step, fake._succeed = event, step, succeed


# The SDK's models warn, on stderr, with the value they did not expect: that is provider text, unredacted.
@pytest.mark.filterwarnings("error::UserWarning")
@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_non_numbers_from_the_provider_are_dropped_and_status_still_works(provider, project, request, capsys) -> None:
    from tuneui.cli import main

    fake = request.getfixturevalue(f"fake_{provider}")
    _hostile(fake)
    backend = get_backend(provider, project)

    final = follow(backend, backend.start(make_spec(project, provider)))
    capsys.readouterr()
    code = main(["--project", str(project.root), "status", final.run_id])
    shown = capsys.readouterr()

    assert final.status == "succeeded" and code in (0, None), shown.err
    assert "Traceback" not in shown.out + shown.err
    events = read_jsonl(project.run_dir(final.run_id) / "events.jsonl")
    assert all(isinstance(e["time"], float) and 0 <= e["time"] <= LATEST_TIME for e in events)
    # Every provider event is kept (3 of its 4 metrics events as metrics), whatever its time said.
    provider_ids = {e["id"] for job in fake.events.values() for e in job}
    assert provider_ids <= {e.get("id") for e in events}
    metrics = [e["data"] for e in events if e["type"] == "metrics"]
    assert [m["step"] for m in metrics] == [1, 2, 4]
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for m in metrics for v in m.values())
    assert "total_steps" not in metrics[1] and "train_loss" not in metrics[1] and "valid_loss" not in metrics[1]
    checkpoints = [e["data"] for e in events if e["type"] == "checkpoint"]
    assert checkpoints and all(c["metrics"] == {"valid_loss": 0.5} for c in checkpoints)
    status = json.loads(project.run_dir(final.run_id).joinpath("status.json").read_text())
    model = json.loads(project.run_dir(final.run_id).joinpath("model.json").read_text())
    assert status["status"] == "succeeded" and status["trained_tokens"] is None and model["trained_tokens"] is None
