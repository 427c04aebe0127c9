"""How a followed run reads on a terminal: its progress lines, how it ended, how to resume it.

Shared by `tuneui train --wait` (which follows a run) and `tuneui status` (which shows one).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from backends.run_events import measured, step_count
from tuneui.core.visible import visible

if TYPE_CHECKING:
    from tuneui.core.backend import Backend, Event, JobStatus


def follow(backend: "Backend", run_id: str, after: int = 0, quiet: bool = False) -> "JobStatus":
    """Print progress lines until the run ends; Ctrl-C stops following, never the run."""
    try:
        while True:
            for event in backend.events(run_id, after):
                after = event.seq + 1
                line = progress_line(event)
                if line and not quiet:
                    print(line, flush=True)
            current = backend.status(run_id)
            if current.status in ("succeeded", "failed", "cancelled"):
                for event in backend.events(run_id, after):
                    line = progress_line(event)
                    if line and not quiet:
                        print(line, flush=True)
                if not quiet:
                    _print_outcome(backend, current)
                return current
            time.sleep(backend.poll_seconds)
    except KeyboardInterrupt:
        print(f"\nStopped following; run {run_id} goes on. Reattach: tuneui status {run_id}", file=sys.stderr)
        raise


def progress_line(event: "Event") -> str | None:
    """One short, uniform line per event, in the manner of nanoGPT's logs."""
    data = event.data
    if event.type == "metrics":
        # Only numbers a run logs: a damaged events.jsonl or a provider's odd field is left out.
        step = data.get("step")
        parts = [f"step {step if type(step) is int else '?'}/{step_count(data.get('total_steps')) or '?'}"]
        if (train := measured(data.get("train_loss"))) is not None:
            parts.append(f"train {train:.4f}")
        if (valid := measured(data.get("valid_loss"))) is not None:
            parts.append(f"valid {valid:.4f}")
        if (rate := measured(data.get("learning_rate"))) is not None:
            parts.append(f"lr {rate:.2e}")
        if speed := measured(data.get("tokens_per_second")):
            parts.append(f"{speed:,.0f} tok/s")
        return "  ".join(parts)
    if event.type == "checkpoint":
        return f"checkpoint at step {data.get('step')}"
    if event.type == "status":
        extra = f" (resumed from step {data['resumed_from_step']})" if "resumed_from_step" in data else ""
        return f"status {visible(str(data.get('status')))}{extra}"
    if event.type == "log" and data.get("message"):
        return f"note: {visible(str(data['message']))}"
    return None


def _print_outcome(backend: "Backend", current: "JobStatus") -> None:
    hint = resume_hint(backend, current)
    if current.status == "succeeded":
        print(f"Run {current.run_id} succeeded: {visible(current.model_ref.label) if current.model_ref else ''}")
    elif current.status == "failed":
        print(f"Run {current.run_id} failed: {visible(current.error or 'see its worker.log')}", file=sys.stderr)
        if hint:
            print(f"  hint: fix the cause, then {hint}", file=sys.stderr)
    else:
        print(f"Run {current.run_id} was cancelled." + (f" {hint}" if hint else ""))


def resume_hint(backend: "Backend", current: "JobStatus") -> str | None:
    """How to continue a stopped run, where its backend can.

    A local run restarts from its newest checkpoint after a failure or a cancel; a hosted provider
    can only resume a job it paused itself, and never a failed or cancelled one.
    """
    if not backend.supports_resume:
        return None
    if backend.hosted:
        return f"`tuneui train --resume {current.run_id}` resumes it." if current.detail == "paused" else None
    if current.status in ("failed", "cancelled"):
        return f"`tuneui train --resume {current.run_id}` continues it from its newest checkpoint."
    return None


def loss_text(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "-"
