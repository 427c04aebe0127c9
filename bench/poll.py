"""One poll of the app's workspace watch against the full re-read it replaced, in the same run.
Goal: a poll with 20 runs of 3,000 events under 20 ms after the first.

    .venv/bin/python bench/poll.py [--runs 20] [--events 3000] [--polls 30]

The workspace holds a 1,000-example split and `--runs` hosted runs of `--events` metrics events,
half of them finished, half running. Between two polls each running run gets two new events (a
poll's worth of progress). The reference is what each poll did before: every run's status, spec
and whole events.jsonl (twice), the split's lines counted, the baseline folder walked.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuneui.core.backend import Event, TrainSpec  # noqa: E402
from backends.runs import RunFolder, list_runs  # noqa: E402
from tuneui.core.settings import Settings  # noqa: E402
from tuneui.core.workspace import Workspace, init_workspace  # noqa: E402
from tuneui.guide.state import WorkspaceWatch  # noqa: E402


def build(root: Path, runs: int, events: int) -> tuple[Workspace, list[RunFolder]]:
    workspace = init_workspace(root / "project", Settings())
    line = json.dumps({"messages": [{"role": "user", "content": "When are you open?"}, {"role": "assistant", "content": "9-6."}]})
    workspace.train_file.write_text((line + "\n") * 850, encoding="utf-8")
    workspace.val_file.write_text((line + "\n") * 150, encoding="utf-8")
    running = []
    for number in range(runs):
        spec = TrainSpec(run_id=f"20261128-{number:06d}-abcd", backend="openai", model="gpt-4o-mini", train_file=str(workspace.train_file))
        folder = RunFolder.create(workspace.runs_dir, spec)
        with open(folder.events_path, "a", encoding="utf-8") as handle:
            for step in range(1, events + 1):
                event = Event("metrics", {"step": step, "total_steps": events * 2, "train_loss": 3.0 / step}, 1000.0 + step, id=f"e{step}")
                handle.write(json.dumps(event.to_dict()) + "\n")
        finished = number % 2 == 0
        folder.write_status(status="succeeded" if finished else "running", backend="openai")
        if not finished:
            running.append(folder)
    return workspace, running


def full_reread(workspace: Workspace) -> None:
    """The poll before the watch: `observe()` as it was."""
    for folder in list_runs(workspace.runs_dir):
        folder.job_status()  # status.json, spec.json, and every event for the metrics summary
        for event in reversed(folder.read_events()):  # again, for the total steps
            if event.type == "metrics" and event.data.get("total_steps"):
                break
        (folder.eval_dir.is_dir() and any(p.is_file() for p in folder.eval_dir.rglob("*")))
    for path in (workspace.train_file, workspace.val_file):
        with open(path, "rb") as handle:
            sum(1 for line in handle if line.strip())
    workspace.baseline_dir.is_dir() and any(p.is_file() for p in workspace.baseline_dir.rglob("*"))


def progress(running: list[RunFolder], step: int) -> None:
    for folder in running:
        with open(folder.events_path, "a", encoding="utf-8") as handle:
            for extra in (step, step + 1):
                handle.write(json.dumps(Event("metrics", {"step": extra, "train_loss": 0.1}, 5000.0 + extra).to_dict()) + "\n")


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--polls", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workspace, running = build(Path(tmp), args.runs, args.events)
        watch = WorkspaceWatch(workspace)
        first = timed(watch.poll)
        reference, polls = [], []
        step = args.events + 1
        for _ in range(args.polls):
            progress(running, step)
            step += 2
            reference.append(timed(lambda: full_reread(workspace)))
            polls.append(timed(watch.poll))
        state = watch.poll()
        assert all(run.steps == step - 1 for run in state.runs if run.active), "the watch followed every event"
    ref, new = statistics.median(reference), statistics.median(polls)
    print(f"{args.runs} runs x {args.events} events, {len(running)} running (+2 events per poll), median of {args.polls} polls")
    print(f"full re-read (before):  {ref:8.2f} ms per poll")
    print(f"watch, first poll:      {first:8.2f} ms")
    print(f"watch, later polls:     {new:8.2f} ms per poll (max {max(polls):.2f})")
    print(f"speed-up: {ref / new:.1f}x   goal under 20 ms: {'met' if new < 20 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
