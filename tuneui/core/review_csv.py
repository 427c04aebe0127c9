"""Off-screen review: the blind pairs as a CSV for a spreadsheet, and its votes read back.

The file holds what a reviewer sees in the app and nothing more: the pair's id, the example's
line, the request, the reference, answers A and B in the layout's order and sides, and empty
`vote` and `reviewer` columns. No column tells which side is tuned; the pair id is a digest of
the pair's content, the same whichever side each answer stands on.

Reading it back refuses, naming the line, any row whose pair is not one of the run's (a file of
another run) or whose texts are not the ones exported (a tampered file): a vote counts only for
the answers its reviewer actually read.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Mapping, Sequence

from tuneui.core.review import Choice, Layout, Pair, Vote, checked_reviewer
from tuneui.errors import UsageError

COLUMNS = ("pair", "line", "request", "reference", "answer_a", "answer_b", "vote", "reviewer")
SHOWN = ("request", "reference", "answer_a", "answer_b")
# A spreadsheet runs a cell that starts with one of these as a formula: model output must not.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
VOTE_WORDS: Mapping[str, Choice | None] = {
    "a": "A", "1": "A", "b": "B", "2": "B", "tie": "tie", "=": "tie", "'=": "tie", "": None, "skip": None, "s": None,
}  # fmt: skip


def export_csv(pairs: Sequence[Pair], layout: Layout) -> str:
    by_key = {pair.key: pair for pair in pairs}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for key in layout.order:
        pair = by_key[key]
        answer_a, answer_b = layout.shown(pair)
        cells = (pair.request, pair.reference, answer_a, answer_b)
        writer.writerow([key, "" if pair.line is None else str(pair.line), *(_guarded(text) for text in cells), "", ""])
    return out.getvalue()


def import_csv(path: Path, pairs: Sequence[Pair], layout: Layout, run_id: str, reviewer: str, at: float) -> list[Vote]:
    """The votes of a filled-in export; `reviewer` for rows that name none."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start})", "Save the sheet as CSV UTF-8.", exit_code=1) from None
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}", "Check the path.", exit_code=1) from None
    by_key = {pair.key: pair for pair in pairs}
    reader = csv.reader(io.StringIO(text, newline=""))
    votes: list[Vote] = []
    seen: dict[str, str] = {}
    line = 1
    try:
        header = next(reader, None)
        if header is None or [cell.strip().lower() for cell in header] != list(COLUMNS):
            _refuse(path, "line 1", f"the header is not {','.join(COLUMNS)}", "Start from `tuneui review RUN --export FILE.csv`.")
        line = reader.line_num
        for number, row in enumerate(reader, start=2):
            # An answer may span lines: name the line the record starts on, and its row in a sheet.
            where, line = f"line {line + 1} (row {number})", reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            vote = _vote(path, where, row, by_key, layout, run_id, reviewer, at, seen)
            if vote is not None:
                votes.append(vote)
    except csv.Error as exc:
        _refuse(path, f"line {reader.line_num}", f"not CSV: {exc}", "Save the sheet as CSV again.")
    return votes


def _vote(
    path: Path, line: str, row: list[str], by_key: Mapping[str, Pair], layout: Layout, run_id: str, reviewer: str, at: float,
    seen: dict[str, str],
) -> Vote | None:  # fmt: skip
    if len(row) != len(COLUMNS):
        _refuse(path, line, f"{len(row)} cells, not {len(COLUMNS)}", "Keep the exported columns as they are.")
    cells = dict(zip(COLUMNS, row))
    key = cells["pair"].strip()
    pair = by_key.get(key)
    if pair is None:
        _refuse(path, line, f"pair {key!r} is not one of run {run_id}'s pairs (a file from another run or evaluation?)",
                f"Export this run's pairs again: `tuneui review {run_id} --export FILE.csv`.")  # fmt: skip
    if key in seen:
        _refuse(path, line, f"pair {key} is on {seen[key]} already", "Keep one row per pair.")
    seen[key] = line
    answer_a, answer_b = layout.shown(pair)
    for column, expected in zip(SHOWN, (pair.request, pair.reference, answer_a, answer_b)):
        if not _same(cells[column], expected):
            _refuse(path, line, f"the {column} of pair {key} is not the text exported (the file was changed)",
                    "Vote only in the vote and reviewer columns; export again to start over.")  # fmt: skip
    word = cells["vote"].strip().lower()
    if word not in VOTE_WORDS:
        _refuse(path, line, f"vote {cells['vote']!r} is not A, B, tie or empty", "Write A, B or tie; leave it empty to skip.")
    choice = VOTE_WORDS[word]
    if choice is None:
        return None
    name = checked_reviewer(cells["reviewer"], f"{path} {line}: reviewer") if cells["reviewer"].strip() else reviewer
    return Vote(key, name, choice, layout.tuned_side[key], at)


def _guarded(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _same(cell: str, expected: str) -> bool:
    # Spreadsheets save line breaks inside a cell as CRLF; the guard quote may or may not survive.
    cell = cell.replace("\r\n", "\n")
    expected = expected.replace("\r\n", "\n")
    return cell in (expected, _guarded(expected))


def _refuse(path: Path, where: str, problem: str, hint: str) -> None:
    raise UsageError(f"{path} {where}: {problem}", hint, exit_code=1)
