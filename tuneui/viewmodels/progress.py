"""A training run's progress as the Train view shows it, read from its events: no Textual, no torch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from tuneui.core.backend import Event
from backends.run_events import measured, step_count

OVERFIT_WINDOW = 2  # consecutive validation rises, with training loss falling, before warning


@dataclass(frozen=True)
class ProgressSummary:
    """A run's progress summed up from its events: the loss curves, the step, speed and the best checkpoint."""

    train_points: tuple[tuple[int, float], ...]
    valid_points: tuple[tuple[int, float], ...]
    step: int
    total_steps: int | None
    tokens_per_second: float | None
    eta_seconds: float | None
    best_step: int | None
    best_valid_loss: float | None

    @property
    def overfitting(self) -> bool:
        """Validation loss rising while training loss falls: the model is memorizing its examples."""
        valid = [loss for _, loss in self.valid_points]
        if len(valid) <= OVERFIT_WINDOW:
            return False
        recent = valid[-(OVERFIT_WINDOW + 1):]
        rising = all(later > earlier for earlier, later in zip(recent, recent[1:]))
        since = self.valid_points[-(OVERFIT_WINDOW + 1)][0]
        train_then = [loss for step, loss in self.train_points if step <= since]
        train_now = [loss for step, loss in self.train_points if step > since]
        falling = bool(train_then and train_now) and min(train_now) < train_then[-1]
        return rising and falling


def progress_of(events: Iterable[Event]) -> ProgressSummary:
    train: list[tuple[int, float]] = []
    valid: list[tuple[int, float]] = []
    step, total, speed = 0, None, None
    step_times: list[tuple[int, float]] = []
    for event in events:
        if event.type != "metrics":
            continue
        data = event.data
        current = data.get("step")
        if not isinstance(current, int):
            continue
        step = max(step, current)
        total = step_count(data.get("total_steps")) or total
        if (tokens_per_second := measured(data.get("tokens_per_second"))) is not None:
            speed = tokens_per_second
        if (train_loss := measured(data.get("train_loss"))) is not None:
            train.append((current, train_loss))
            if (time := measured(event.time)) is not None:
                step_times.append((current, time))
        if (valid_loss := measured(data.get("valid_loss"))) is not None:
            valid.append((current, valid_loss))
    best = min(valid, key=lambda point: point[1]) if valid else None
    return ProgressSummary(
        train_points=tuple(train),
        valid_points=tuple(valid),
        step=step,
        total_steps=total,
        tokens_per_second=speed,
        eta_seconds=_eta(step_times, total),
        best_step=best[0] if best else None,
        best_valid_loss=best[1] if best else None,
    )


def _eta(step_times: list[tuple[int, float]], total: int | None) -> float | None:
    """Seconds left at the pace of the logged steps so far."""
    if total is None or len(step_times) < 2:
        return None
    (first_step, first_time), (last_step, last_time) = step_times[0], step_times[-1]
    if last_step <= first_step or last_time <= first_time:
        return None
    per_step = (last_time - first_time) / (last_step - first_step)
    return max(0.0, (total - last_step) * per_step)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def overfit_warning(progress: ProgressSummary, active: bool) -> str:
    """The overfitting warning, in the tense of the run: a finished run is stopping no more."""
    if not progress.overfitting:
        return ""
    if active:
        return ("⚠ Overfitting: validation loss is rising while training loss falls. "
                f"The best checkpoint is step {progress.best_step}; early stopping will end the run.")  # fmt: skip
    return ("⚠ Overfitting: validation loss rose while training loss fell, to the end of the run. "
            f"Its best checkpoint was step {progress.best_step}; fewer steps or more examples would help.")  # fmt: skip
