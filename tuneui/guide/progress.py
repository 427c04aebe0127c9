"""A step's progress as its child process reports it: "answer 7 of 66", a rate and an ETA that
corrects itself from the speed measured in the last minute (a loaded machine slows down; the
first answers of a local model pay for loading it).

The steps print `progress: answer N of M (what)` on stderr (`tuneui.steps.answering`); any other
`progress: ` line is a phase without a count. No Textual here: the app and the tests both use it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable

from tuneui.viewmodels.progress import format_seconds

PREFIX = "progress: "
_COUNT = re.compile(r"answer (\d+) of (\d+)(?: \((.*)\))?$")
WINDOW_S = 60.0  # the rate is measured over this much recent time


@dataclass
class StepProgress:
    """What one running step has said so far, and when; `text()` is the line the screen shows."""

    step: str
    clock: Callable[[], float] = time.monotonic
    started: float = 0.0
    phase: str = ""
    done: int | None = None
    total: int | None = None
    _points: list[tuple[float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def feed(self, line: str) -> bool:
        """Take one stderr line of the step; True when it was progress (the text changed)."""
        if not line.startswith(PREFIX):
            return False
        said = line[len(PREFIX):].strip()
        match = _COUNT.match(said)
        if match is None:
            self.phase = said
            return True
        done, total = int(match.group(1)), int(match.group(2))
        if self.done is not None and done < self.done:
            self._points = []  # a new count: its speed is measured afresh
        self.done, self.total = done, total
        if match.group(3):
            self.phase = match.group(3)
        now = self.clock()
        self._points.append((now, done))
        self._points = [point for point in self._points if now - point[0] <= WINDOW_S] or [(now, done)]
        return True

    def rate(self) -> float | None:
        """Answers a second over the recent window; None until two counts are apart in time."""
        if len(self._points) < 2:
            return None
        (first_time, first_done), (last_time, last_done) = self._points[0], self._points[-1]
        if last_time <= first_time or last_done <= first_done:
            return None
        return (last_done - first_done) / (last_time - first_time)

    def eta_seconds(self) -> float | None:
        rate = self.rate()
        if rate is None or self.done is None or self.total is None:
            return None
        # From the last count, less the time already spent since it.
        since = self.clock() - self._points[-1][0]
        return max(0.0, (self.total - self.done) / rate - since)

    def text(self) -> str:
        elapsed = format_seconds(self.clock() - self.started)
        parts = [f"{self.step}: " + (self.phase or "starting")]
        if self.done is not None and self.total is not None:
            parts = [f"{self.step}: answer {self.done} of {self.total}"] + ([self.phase] if self.phase else [])
            rate = self.rate()
            if rate is not None:
                parts.append(f"{rate * 60:.0f} answers/min" if rate < 1 else f"{rate:.1f} answers/s")
                parts.append(f"about {format_seconds(self.eta_seconds())} left")
            else:
                parts.append("measuring speed")
        parts.append(f"{elapsed} so far")
        return " · ".join(parts)
