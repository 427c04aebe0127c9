"""The leaderboard: every baseline variant and every run side by side, and which model to carry on with.

Pure logic, no files and no UI: `tuneui.steps.leaderboard_files` gathers the entries from
`baseline/` and `runs/`; the CLI (`tuneui runs --compare`), the report and the app's card show the
rows made here. Each entry on the current split keeps its per-example primary-metric scores, so
every interval is paired (same examples, same order) against the best baseline: far tighter than
two separate intervals, and the same bootstrap the Evaluate step uses.

A run on another split (or on files of its own, or from before tuneui recorded splits) scored other
examples: its numbers are shown apart, marked, and never ranked or compared with the current ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from tuneui.core.intervals import paired_difference_ci

CURRENT, OTHER = "current", "other"  # a row's `split`
BOARD_FILE = "leaderboard.json"  # in reports/: the rows and the advice as last computed, for the app


@dataclass(frozen=True)
class Entry:
    """One baseline variant or one run, as the leaderboard needs it."""

    model: str  # "backend:model", the base model
    kind: str  # "baseline" or "run"
    name: str  # the variant ("3-shot") or the run id
    split: str  # CURRENT, or OTHER for a run on another (or an unrecorded) split
    scores: tuple[float, ...] | None = None  # per val example, primary metric; None = not evaluated on this split
    rules_passed: int | None = None
    rules_total: int | None = None
    stopped: int | None = None  # answers that ended on their own
    answers: int | None = None
    train_seconds: float | None = None
    dollars: float | None = None
    note: str = ""  # why a row has no numbers, or which split it trained on

    @property
    def value(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None


@dataclass(frozen=True)
class Board:
    metric: str
    rows: tuple[dict[str, Any], ...]  # the JSON rows, in their order
    ranked: tuple[Entry, ...]  # the current split's scored entries, best first (row order)
    best_baseline: Entry | None
    advice: str


def build(entries: Sequence[Entry], metric: str, *, seed: int = 0) -> Board:
    """The rows, sorted: the current split's scored entries by the primary metric (a tie goes to the
    baseline, then to the cheaper one), then its unscored runs, then every run on another split."""
    current = [e for e in entries if e.split == CURRENT]
    scored = sorted((e for e in current if e.value is not None), key=lambda e: (-_rounded(e.value), e.kind != "baseline", e.dollars or 0.0, e.model, e.name))
    unscored = sorted((e for e in current if e.value is None), key=lambda e: (e.model, e.name))
    apart = sorted((e for e in entries if e.split != CURRENT), key=lambda e: (e.model, e.name))
    best_baseline = next((e for e in scored if e.kind == "baseline"), None)
    rows = [_row(e, rank, metric, best_baseline, seed) for rank, e in enumerate(scored, 1)]
    rows += [_row(e, None, metric, None, seed) for e in unscored + apart]
    return Board(metric, tuple(rows), tuple(scored), best_baseline, advice(scored, metric, seed=seed))


def advice(ranked: Sequence[Entry], metric: str, *, seed: int = 0) -> str:
    """Which candidate to carry on with, and what the difference is worth given the interval.

    Each model is represented by its best entry (a run or a prompt); the leader is compared with
    the runner-up on the same examples. When the interval holds 0 the difference is "within
    noise", and the cheaper of the two (a prompt needs no training; then dollars, then train time)
    is the one to carry on with.
    """
    best_of: dict[str, Entry] = {}
    for entry in ranked:
        best_of.setdefault(entry.model, entry)
    leaders = list(best_of.values())
    if not leaders:
        return "No candidate has a score on the current split yet: run `tuneui baseline --candidates` (or --model A --model B)."
    first = leaders[0]
    if len(leaders) == 1:
        return f"Only {first.model} has a score on the current split; add a second candidate to compare (`tuneui baseline --model A --model B`)."
    second = leaders[1]
    difference, (low, high) = paired_difference_ci(first.scores or (), second.scores or (), seed=seed)
    worth = f"{metric} {_number(first.value)} against {_number(second.value)}: {_signed(difference)} (95 % interval {_signed(low)} to {_signed(high)})"
    if math.isnan(low) or low <= 0 <= high:
        cheaper = min((first, second), key=_cost_key)
        why = _cheaper_reason(cheaper, first if cheaper is second else second)
        return (
            f"{first.model} ({_what(first)}) and {second.model} ({_what(second)}) are within noise: {worth}. "
            f"Carry on with {cheaper.model}{why}; more validation examples could separate them."
        )
    return f"Carry on with {first.model} ({_what(first)}): it beats {second.model} ({_what(second)}) on {worth}, beyond noise."


def _row(entry: Entry, rank: int | None, metric: str, best: Entry | None, seed: int) -> dict[str, Any]:
    difference: float | None = None
    interval: list[float] | None = None
    if best is not None and entry.scores and best.scores and len(entry.scores) == len(best.scores):
        mean, (low, high) = paired_difference_ci(entry.scores, best.scores, seed=seed)
        difference, interval = round(mean, 4), [round(low, 4), round(high, 4)]
    return {
        "rank": rank,
        "model": entry.model,
        "kind": entry.kind,
        "variant": entry.name if entry.kind == "baseline" else None,
        "run": entry.name if entry.kind == "run" else None,
        "split": entry.split,
        "metric": metric,
        "value": None if entry.value is None else round(entry.value, 4),
        "vs_best_baseline": difference,
        "ci95": interval,
        "rule_pass_rate": _rate(entry.rules_passed, entry.rules_total),
        "stopped_on_their_own_rate": _rate(entry.stopped, entry.answers),
        "train_seconds": None if entry.train_seconds is None else round(entry.train_seconds, 1),
        "dollars": None if entry.dollars is None else round(entry.dollars, 4),
        "note": entry.note,
    }


def text_table(board: Board) -> list[str]:
    """The rows as `tuneui runs --compare` prints them, then the advice."""
    head = f"{'#':>2}  {'model':<28} {'variant or run':<22} {board.metric:>8} {'vs best baseline (95 %)':>26} {'rules':>6} {'stopped':>8} {'train':>8} {'dollars':>8}"
    lines = [head]
    apart_shown = False
    for row in board.rows:
        if row["split"] != CURRENT and not apart_shown:
            lines.append("-- on another split: not ranked, not comparable with the rows above --")
            apart_shown = True
        lines.append(
            f"{row['rank'] or '-':>2}  {_cut(row['model'], 28):<28} {_cut(row['variant'] or row['run'], 22):<22} {_number(row['value']):>8} "
            f"{_against(row):>26} {_percent(row['rule_pass_rate']):>6} {_percent(row['stopped_on_their_own_rate']):>8} "
            f"{_duration(row['train_seconds']):>8} {_dollars(row['dollars']):>8}" + (f"  ({row['note']})" if row["note"] else "")
        )
    return lines + ["", board.advice]


CELL_HEADER = ("#", "model", "variant or run", "split", "value", "vs best baseline (95 % interval)", "rules passed", "stopped on their own", "train time", "dollars", "note")


def cells(board: Board) -> list[list[str]]:
    """The rows as plain text cells (CELL_HEADER's columns), for the report and the app's card;
    each renderer escapes them its own way."""
    return [
        [str(row["rank"] or "-"), row["model"], row["variant"] or row["run"] or "-", row["split"], _number(row["value"]), _against(row),
         _percent(row["rule_pass_rate"]), _percent(row["stopped_on_their_own_rate"]), _duration(row["train_seconds"]),
         _dollars(row["dollars"]), row["note"]]
        for row in board.rows
    ]  # fmt: skip


def _against(row: dict[str, Any]) -> str:
    if row["vs_best_baseline"] is None:
        return "-"
    low, high = row["ci95"]
    return f"{_signed(row['vs_best_baseline'])} [{_signed(low)}, {_signed(high)}]"


def _what(entry: Entry) -> str:
    return f"run {entry.name}" if entry.kind == "run" else f"{entry.name} prompt"


def _cost_key(entry: Entry) -> tuple[float, float]:
    if entry.kind == "baseline":
        return (0.0, 0.0)  # a prompt needs no training at all
    return (entry.dollars if entry.dollars is not None else math.inf, entry.train_seconds if entry.train_seconds is not None else math.inf)


def _cheaper_reason(chosen: Entry, other: Entry) -> str:
    if chosen.kind == "baseline" and other.kind != "baseline":
        return f", whose {chosen.name} prompt needs no fine-tuning at all"
    if chosen.dollars is not None and other.dollars is not None and chosen.dollars < other.dollars:
        return f", which costs less ({_dollars(chosen.dollars)} against {_dollars(other.dollars)})"
    if chosen.train_seconds is not None and other.train_seconds is not None and chosen.train_seconds < other.train_seconds:
        return f", which trains faster ({_duration(chosen.train_seconds)} against {_duration(other.train_seconds)})"
    return ", the leader by a margin the data cannot confirm"


def _rounded(value: float | None) -> float:
    return round(value or 0.0, 4)


def _rate(part: int | None, whole: int | None) -> float | None:
    return round(part / whole, 4) if part is not None and whole else None


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _signed(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:+.3f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f} %"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _dollars(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _cut(text: str | None, width: int) -> str:
    text = text or "-"
    return text if len(text) <= width else "…" + text[-(width - 1):]
