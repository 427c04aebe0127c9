"""The run folder `runs/<run-id>/`: the one place any process reads to reattach to a job.

Layout: `spec.json` (what was asked, no secrets), `events.jsonl` (append-only, one normalized event
a line, deduplicated by the provider's event id), `status.json`, `pid`, `worker.log`,
`checkpoints/`, and finally `adapter/` (local) or `model.json` (hosted), plus `eval/`.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from backends.base import BackendError, Event, JobNotFoundError, JobStatus, ModelRef, TrainSpec
from tuneui.core.files import atomic_write_json


class DamagedRunError(BackendError):
    """A file of a run folder is not what tuneui wrote: hand-edited, truncated or overwritten."""


class RunFolder:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def run_id(self) -> str:
        return self.path.name

    spec_path = property(lambda self: self.path / "spec.json")
    events_path = property(lambda self: self.path / "events.jsonl")
    status_path = property(lambda self: self.path / "status.json")
    pid_path = property(lambda self: self.path / "pid")
    log_path = property(lambda self: self.path / "worker.log")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")
    adapter_dir = property(lambda self: self.path / "adapter")
    model_json = property(lambda self: self.path / "model.json")
    eval_dir = property(lambda self: self.path / "eval")

    @classmethod
    def create(cls, runs_dir: str | os.PathLike[str], spec: TrainSpec) -> "RunFolder":
        folder = cls(Path(runs_dir) / spec.run_id)
        folder.path.mkdir(parents=True, exist_ok=False)
        folder.checkpoints_dir.mkdir()
        atomic_write_json(folder.spec_path, spec.to_dict())
        folder.write_status(status="queued", backend=spec.backend, created=time.time())
        folder.events_path.touch()
        return folder

    @classmethod
    def open(cls, runs_dir: str | os.PathLike[str], run_id: str) -> "RunFolder":
        folder = cls(Path(runs_dir) / run_id)
        # A run id names a folder directly under runs/: "../x" must not reach another folder.
        if Path(run_id).name != run_id or run_id in ("", ".", "..") or not folder.spec_path.is_file():
            raise JobNotFoundError(f"No run named {run_id!r} in {runs_dir}", "`tuneui runs` lists the runs of this project.")
        return folder

    def read_spec(self) -> TrainSpec:
        raw = self._read_object(self.spec_path)
        try:
            return TrainSpec.from_dict(raw)
        except (TypeError, ValueError) as exc:
            raise self._damaged(self.spec_path, f"its fields do not describe a run ({exc})") from None

    def read_status(self) -> dict[str, Any]:
        return self._read_object(self.status_path)

    def _read_object(self, path: Path) -> dict[str, Any]:
        """A JSON object file of this run ({} when absent); anything else is a clear error naming it."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except UnicodeDecodeError:
            raise self._damaged(path, "it is not UTF-8 text") from None
        except OSError as exc:
            raise self._damaged(path, exc.strerror or str(exc)) from None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self._damaged(path, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        if not isinstance(value, dict):
            raise self._damaged(path, f"it holds a JSON {type(value).__name__}, not an object")
        return value

    def _damaged(self, path: Path, why: str) -> DamagedRunError:
        return DamagedRunError(
            f"{path}: {why}",
            f"Restore the file, or remove the folder {self.path} if the run is no longer needed.",
        )

    def write_status(self, **changes: Any) -> dict[str, Any]:
        """Merge `changes` into status.json under the run's lock (two followers may race)."""
        with self._locked():
            status = self.read_status()
            status.update(changes)
            status["updated"] = time.time()
            atomic_write_json(self.status_path, status)
            return status

    def append_events(self, events: Iterable[Event]) -> list[Event]:
        """Append the events whose provider id was not seen before; return those written."""
        written: list[Event] = []
        with self._locked():
            existing = self.read_events()
            seen = {e.id for e in existing if e.id is not None}
            seq = len(existing)
            with open(self.events_path, "a", encoding="utf-8") as handle:
                for event in events:
                    if event.id is not None and event.id in seen:
                        continue
                    if event.id is not None:
                        seen.add(event.id)
                    handle.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
                    written.append(Event(event.type, event.data, event.time, seq, event.id))
                    seq += 1
                handle.flush()
                os.fsync(handle.fileno())
        return written

    def read_events(self, after: int = 0) -> list[Event]:
        """Events with seq >= after. A torn last line (a crash mid-write) or a damaged one is skipped."""
        events: list[Event] = []
        try:
            # A damaged byte spoils its own line only: that line fails to parse and is skipped.
            handle = open(self.events_path, encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return events
        except OSError as exc:
            raise self._damaged(self.events_path, exc.strerror or str(exc)) from None
        with handle:
            seq = 0
            for line in handle:
                if not line.endswith("\n"):
                    break
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not _is_event(raw):
                    continue
                if seq >= after:
                    events.append(Event.from_dict(raw, seq))
                seq += 1
        return events

    def model_ref(self) -> ModelRef | None:
        raw = self.read_status().get("model_ref")
        if not raw:
            return None
        try:
            return ModelRef.from_dict(raw)
        except (AttributeError, TypeError) as exc:
            raise self._damaged(self.status_path, f"its model_ref is not a model ({exc})") from None

    def job_status(self) -> JobStatus:
        status = self.read_status()
        spec = self._read_object(self.spec_path)
        return JobStatus(
            run_id=self.run_id,
            backend=status.get("backend") or spec.get("backend", "?"),
            status=status.get("status", "queued"),
            job_id=status.get("job_id"),
            model_ref=self.model_ref(),
            metrics=summarize_metrics(self.read_events()),
            detail=status.get("detail"),
            error=status.get("error"),
        )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # An advisory lock beside the data: a UI follower and `tuneui status` may poll at once.
        with open(self.path / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


def summarize_metrics(events: Iterable[Event]) -> dict[str, Any]:
    """The `metrics` object of `status --json`: steps, first/last train loss, last/best valid loss."""
    summary: dict[str, Any] = {
        "steps": 0,
        "first_train_loss": None,
        "last_train_loss": None,
        "last_valid_loss": None,
        "best_valid_loss": None,
        "best_step": None,
    }
    for event in events:
        if event.type != "metrics":
            continue
        data: Mapping[str, Any] = event.data
        step = data.get("step")
        if isinstance(step, int) and step > summary["steps"]:
            summary["steps"] = step
        train = _finite(data.get("train_loss"))
        if train is not None:
            if summary["first_train_loss"] is None:
                summary["first_train_loss"] = train
            summary["last_train_loss"] = train
        valid = _finite(data.get("valid_loss"))
        if valid is not None:
            summary["last_valid_loss"] = valid
            if summary["best_valid_loss"] is None or valid < summary["best_valid_loss"]:
                summary["best_valid_loss"] = valid
                summary["best_step"] = step
    return summary


def list_runs(runs_dir: str | os.PathLike[str]) -> list[RunFolder]:
    """Every run of a project, oldest first (run ids sort by time)."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    return [RunFolder(p) for p in sorted(root.iterdir()) if (p / "spec.json").is_file()]


def _is_event(raw: Any) -> bool:
    return isinstance(raw, dict) and isinstance(raw.get("type"), str) and isinstance(raw.get("data", {}), dict)


def _finite(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
