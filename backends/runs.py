"""The run folder `runs/<run-id>/`: the one place any process reads to reattach to a job.

Layout: `spec.json` (what was asked, no secrets), `events.jsonl` (append-only, one normalized event
a line, deduplicated by the provider's event id), `status.json`, `pid`, `worker.log`,
`checkpoints/`, and finally `adapter/` (local) or `model.json` (hosted), plus `eval/`.
"""

from __future__ import annotations

import json
import math
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from tuneui.core.backend import TERMINAL_STATES, BackendError, Event, JobNotFoundError, JobStatus, ModelRef, TrainSpec
from backends.run_events import is_event, summarize_metrics, without_superseded
from backends.run_locks import folder_lock, is_locked, try_lock
from tuneui.core.files import atomic_write_json

# Paths of spec.json stored relative to the project (see `_stored_path`).
PATH_FIELDS = ("train_file", "val_file", "model")
STATES = frozenset({"queued", "running"}) | TERMINAL_STATES


class DamagedRunError(BackendError):
    """A file of a run folder is not what tuneui wrote: hand-edited, truncated or overwritten."""


class WorkerBusyError(BackendError):
    """A worker already runs on this run folder: a second one would train the same run twice."""


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
    worker_lock_path = property(lambda self: self.path / "worker.lock")
    log_path = property(lambda self: self.path / "worker.log")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")
    adapter_dir = property(lambda self: self.path / "adapter")
    model_json = property(lambda self: self.path / "model.json")
    eval_dir = property(lambda self: self.path / "eval")

    @property
    def project_root(self) -> Path:
        return self.path.parent.parent

    @classmethod
    def create(cls, runs_dir: str | os.PathLike[str], spec: TrainSpec) -> "RunFolder":
        folder = cls(Path(runs_dir) / spec.run_id)
        _refuse_non_finite(spec.to_dict())
        try:
            folder.path.mkdir(parents=True, exist_ok=False)
        except (FileExistsError, NotADirectoryError):
            if Path(runs_dir).is_dir():
                raise
            raise BackendError(
                f"{runs_dir} is a file where the project keeps its runs",
                "Move that file aside; the next `tuneui train` creates the folder again.",
            ) from None
        folder.checkpoints_dir.mkdir()
        spec_data = spec.to_dict()
        for key in PATH_FIELDS:
            spec_data[key] = folder._stored_path(spec_data.get(key))
        atomic_write_json(folder.spec_path, spec_data)
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
        for key in PATH_FIELDS:
            if isinstance(raw.get(key), str):
                raw[key] = self._resolved_path(raw[key])
        try:
            return TrainSpec.from_dict(raw)
        except (TypeError, ValueError) as exc:
            raise self._damaged(self.spec_path, f"its fields do not describe a run ({exc})") from None

    def read_status(self) -> dict[str, Any]:
        status = self._read_object(self.status_path)
        word = status.get("status", "queued")
        if not isinstance(word, str) or word not in STATES:
            # A hand-edited word must not pass for a verdict: not `failed` (resumable), not `succeeded`.
            raise self._damaged(self.status_path, f"its status {word!r} is not one of {', '.join(sorted(STATES))}")
        return status

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

    def _stored_path(self, value: Any) -> Any:
        """A path inside the project as `./relative` (a copied or moved project stays whole);
        others (hub ids, files elsewhere) as they are."""
        if not isinstance(value, str) or not os.path.isabs(value):
            return value
        # abspath, not resolve: data/train.jsonl is a link to the current split and must stay one.
        for root in (Path(os.path.abspath(self.project_root)), self.project_root.resolve()):
            try:
                return "./" + Path(os.path.abspath(value)).relative_to(root).as_posix()
            except ValueError:
                continue
        return value

    def _resolved_path(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("./"):
            return str(self.project_root.resolve() / value[2:])
        return value

    def _damaged(self, path: Path, why: str) -> DamagedRunError:
        return DamagedRunError(
            f"{path}: {why}",
            f"Restore the file, or remove the folder {self.path} if the run is no longer needed.",
        )

    def write_status(self, **changes: Any) -> dict[str, Any]:
        """Merge `changes` into status.json under the run's lock (two followers may race)."""
        if isinstance(changes.get("model_ref"), dict):
            ref = dict(changes["model_ref"])
            ref["path"], ref["base_model"] = self._stored_path(ref.get("path")), self._stored_path(ref.get("base_model"))
            changes["model_ref"] = ref
        with self.locked():
            status = self.read_status()
            status.update(changes)
            status["updated"] = time.time()
            atomic_write_json(self.status_path, status)
            return status

    def append_events(self, events: Iterable[Event]) -> list[Event]:
        """Append the events whose provider id was not seen before; return those written."""
        written: list[Event] = []
        with self.locked():
            existing = self._read_all_events()
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

    def finish(self, status: str, **changes: Any) -> bool:
        """Record the run's one verdict: status.json and its `status` event, unless one is recorded.

        Every process that notices an end (the worker, `cancel`, each `status` call that finds a
        dead worker) comes here; under the lock only the first one writes, so there is one verdict.
        """
        with self.locked():
            if self.read_status().get("status") in TERMINAL_STATES:
                return False
            self.write_status(status=status, finished=time.time(), **changes)
            data = {"status": status, **({"error": changes["error"]} if changes.get("error") else {})}
            self.append_events([Event("status", data, time.time())])
            return True

    def read_events(self, after: int = 0) -> list[Event]:
        """Events with seq >= after, metrics superseded by a resume left out (see `run_events.without_superseded`).

        A torn last line (a crash mid-write) or a damaged one is skipped. seq numbers every event
        kept in the file, so a follower's offset stays valid when later events supersede earlier ones.
        """
        return [e for e in without_superseded(self._read_all_events()) if e.seq >= after]

    def _read_all_events(self) -> list[Event]:
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
                if not is_event(raw):
                    continue
                events.append(Event.from_dict(raw, seq))
                seq += 1
        return events

    def model_ref(self) -> ModelRef | None:
        raw = self.read_status().get("model_ref")
        if not raw:
            return None
        try:
            ref = ModelRef.from_dict(raw)
            if not all(isinstance(value, str) for value in (ref.backend, ref.base_model, ref.kind)) or not all(
                isinstance(value, (str, type(None))) for value in (ref.path, ref.model_id)
            ):
                raise TypeError("a field that should be text is not")
            return ModelRef(**{**ref.to_dict(), "path": self._resolved_path(ref.path), "base_model": self._resolved_path(ref.base_model)})
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
    def locked(self) -> Iterator[None]:
        """The folder's lock (`run_locks`): a UI follower, `tuneui status` and `train --resume` may act at once."""
        if not self.path.is_dir():
            raise JobNotFoundError(f"The run folder {self.path} is gone", "`tuneui runs` lists the runs of this project.")
        with folder_lock(self.path / ".lock"):
            yield

    def worker_running(self) -> bool:
        """Is a worker alive on this folder? Its `worker.lock` says so, never a stale pid."""
        return is_locked(self.worker_lock_path)

    def claim_worker(self) -> int:
        """Take `worker.lock` for a new worker; returns the descriptor that holds it.

        The launcher claims it before the worker starts and hands the descriptor down, so there is
        no moment when a starting worker runs unlocked. Raises when another worker holds it.
        """
        fd = try_lock(self.worker_lock_path)
        if fd is None:
            raise WorkerBusyError(
                f"Run {self.run_id} is still running: its worker holds {self.worker_lock_path}",
                f"Follow it with `tuneui status {self.run_id}`, or stop it with `tuneui cancel {self.run_id}`.",
            )
        return fd


def list_runs(runs_dir: str | os.PathLike[str]) -> list[RunFolder]:
    """Every run of a project, oldest first (run ids sort by time)."""
    root = Path(runs_dir)
    if root.exists() and not root.is_dir():
        raise BackendError(f"{root} is a file where the project keeps its runs", "Move that file aside; the next `tuneui train` creates the folder again.")
    if not root.is_dir():
        return []
    return [RunFolder(p) for p in sorted(root.iterdir()) if (p / "spec.json").is_file()]


def _refuse_non_finite(values: dict[str, Any], where: str = "") -> None:
    """spec.json is JSON, which has no inf or nan; a value of either trains nothing useful anyway."""
    for key, value in values.items():
        if isinstance(value, dict):
            _refuse_non_finite(value, f"{where}{key}.")
        elif isinstance(value, float) and not math.isfinite(value):
            raise BackendError(
                f"The run's {where}{key} is {value}, not a finite number",
                "Correct the flag or the tuneui.toml setting it came from, then start the run again.",
            )
