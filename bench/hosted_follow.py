"""What following a hosted job costs beyond the HTTP it cannot avoid, against the fake OpenAI server.

    .venv/bin/python bench/hosted_follow.py [--steps 2000] [--polls 50]

Two measurements, each with a reference taken in the same run against the same server:
- catch-up: a job finished `--steps` steps while nobody followed; `tuneui status` pages the events
  newest first, normalizes and appends them once each, records status and model. Reference: the
  SDK alone listing every event (its auto-pagination), writing nothing.
- steady poll: nothing changed since the last poll; one `events()` + `status()` cycle. Reference:
  the two requests any follower must make (`GET` the job, `GET` its newest events page) through
  the same SDK client.
Prints both timings and the ratios (tuneui / reference).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tuneui.core.backend import TrainSpec  # noqa: E402
from backends.openai_ft import OpenAIBackend  # noqa: E402
from tests.hosted.fake_openai import FakeOpenAI  # noqa: E402
from tuneui.core.workspace import init_workspace  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--polls", type=int, default=50)
    args = parser.parse_args()
    with FakeOpenAI(steps=args.steps) as server, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=server.api_key, TUNEUI_POLL_SECONDS="0.001")
        project = init_workspace(Path(tmp) / "project")
        train = project.data_dir / "train.jsonl"
        train.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n')
        backend = OpenAIBackend(project)
        run_id = backend.start(TrainSpec(run_id=project.new_run_id(), backend="openai", model="gpt-4o-mini", train_file=str(train)))
        job_id = next(iter(server.jobs))
        server.advance(job_id, ticks=args.steps + 10)
        events_on_server = len(server.events[job_id])

        client = backend._client(max_retries=0)
        started = time.perf_counter()
        listed = sum(1 for _ in client.fine_tuning.jobs.list_events(job_id, limit=100))
        sdk_list_s = time.perf_counter() - started

        started = time.perf_counter()
        final = backend.status(run_id)
        catch_up_s = time.perf_counter() - started
        stored = len(backend.events(run_id))
        assert final.status == "succeeded" and listed == events_on_server, (final.status, listed, events_on_server)

        backend_steady = OpenAIBackend(project)
        backend_steady.poll_seconds = 3600.0  # so a cycle fetches once, as `train --wait` does
        backend_steady._folder(run_id).write_status(follow_done=False)  # poll it as if still running
        started = time.perf_counter()
        for _ in range(args.polls):
            backend_steady._fetched_at.clear()
            backend_steady.events(run_id)
            backend_steady.status(run_id)
        poll_s = (time.perf_counter() - started) / args.polls
        started = time.perf_counter()
        for _ in range(args.polls):
            client.fine_tuning.jobs.retrieve(job_id)
            client.fine_tuning.jobs.list_events(job_id, limit=100)
        get_s = (time.perf_counter() - started) / args.polls

    print(f"events on the server: {events_on_server}; lines in events.jsonl: {stored} (those, once each, plus status changes)")
    print(f"catch-up   tuneui status {catch_up_s * 1000:8.1f} ms   SDK list-all {sdk_list_s * 1000:8.1f} ms   ratio {catch_up_s / sdk_list_s:5.2f}")
    print(f"steady poll tuneui cycle {poll_s * 1000:8.2f} ms   2 bare GETs  {get_s * 1000:8.2f} ms   ratio {poll_s / get_s:5.2f}")


if __name__ == "__main__":
    main()
