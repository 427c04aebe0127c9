"""Raw records out of files: JSONL lines, JSON values and CSV rows, each with the line it starts on.

Readers yield `(line, record)` pairs, or a `Finding` where a record cannot be read. Input files are
only ever opened for reading.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Iterator, Union

import orjson

from tuneui.core.dataset.findings import Finding, finding
from tuneui.errors import TuneError

BOM = b"\xef\xbb\xbf"
SNIFF_BYTES = 8192
# csv refuses fields over 128 KiB by default; long documents in a cell are legitimate data.
CSV_FIELD_LIMIT = 2**31 - 1

Item = Union[tuple[int, Any], Finding]


class SourceError(TuneError):
    """The file cannot be read at all (missing, a folder, no permission): exit 2."""


def read_head(path: Path) -> bytes:
    """The first bytes of a file, for sniffing; raises SourceError when it cannot be opened."""
    try:
        with open(path, "rb") as handle:
            return handle.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file", "Check the path, or run `tuneui data import FILE` first.") from None
    except IsADirectoryError:
        raise SourceError(f"{path} is a folder", "Name a data file, or a Hugging Face dataset folder with --format hf.") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})", "Check the file's permissions.") from None


def binary_finding(head: bytes) -> Finding | None:
    """A NUL byte never occurs in UTF-8 text data: this is a binary file (a spreadsheet, an archive)."""
    position = head.find(b"\x00")
    if position < 0:
        return None
    return finding(
        "invalid_encoding",
        head.count(b"\n", 0, position) + 1,
        "The file is binary, not text (it contains NUL bytes).",
        "Export the data as UTF-8 JSONL, JSON or CSV; for parquet files pass --format hf.",
    )


def first_char(head: bytes) -> str:
    """The first non-blank character, BOM skipped: '[' for a JSON array, '{' for objects."""
    stripped = head[len(BOM) :] if head.startswith(BOM) else head
    stripped = stripped.lstrip()
    return chr(stripped[0]) if stripped and stripped[0] < 128 else ""


def iter_jsonl(path: Path) -> Iterator[Item]:
    """One JSON value per line, streamed: memory stays flat however large the file is."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            try:
                yield number, orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                if raw.strip():
                    yield _unreadable_line(number, raw, exc)


def first_line_is_json(path: Path) -> bool:
    """True when the first non-blank line is a complete JSON value (JSONL content, whatever the name)."""
    with open(path, "rb") as handle:
        for raw in handle:
            if raw.strip():
                try:
                    orjson.loads(raw[len(BOM) :] if raw.startswith(BOM) else raw)
                except orjson.JSONDecodeError:
                    return False
                return True
    return False


def iter_json_document(path: Path) -> Iterator[Item]:
    """A JSON array's elements, or a sequence of top-level JSON values, each with its start line."""
    text, bad = _decode(path.read_bytes())
    if bad is not None:
        yield bad
        return
    decoder = json.JSONDecoder()
    position = _skip_blank(text, 0)
    in_array = text.startswith("[", position)
    if in_array:
        position = _skip_blank(text, position + 1)
    line, counted_to = 1, 0
    while position < len(text):
        if in_array and text[position] == "]":
            return
        line += text.count("\n", counted_to, position)
        counted_to = position
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            yield finding("invalid_json", exc.lineno, f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.")
            return
        yield line, value
        position = _skip_blank(text, position)
        if in_array:
            if text.startswith(",", position):
                position = _skip_blank(text, position + 1)
            elif not text.startswith("]", position):
                at = text.count("\n", 0, position) + 1
                yield finding("invalid_json", at, "The JSON array is cut off or misses a ',' between elements.")
                return
    if in_array:
        yield finding("invalid_json", text.count("\n") + 1, "The JSON array is cut off: its closing ']' is missing.")


def read_csv(path: Path, delimiter: str) -> tuple[list[str], Iterator[Item], Finding | None]:
    """(header, rows as (line, {column: cell}), an encoding finding). A row's line is where it starts."""
    text, bad = _decode(path.read_bytes())
    if bad is not None:
        return [], iter(()), bad
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        return [], iter(()), finding("invalid_json", 1, f"The header row cannot be read as CSV: {exc}.", "Fix the quoting in the header row.")
    return header, _csv_rows(reader, header), None


def _csv_rows(reader: Any, header: list[str]) -> Iterator[Item]:
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield finding("invalid_json", start, f"This row cannot be read as CSV: {exc}.", "Fix the quoting: a quote inside a quoted cell is written twice (\"\").")
            return
        if any(cell.strip() for cell in row):
            yield start, {name: (row[i] if i < len(row) else None) for i, name in enumerate(header)}
        start = reader.line_num + 1


def _decode(data: bytes) -> tuple[str, Finding | None]:
    """Whole-file UTF-8 (BOM optional); CRLF needs no work since JSON and csv both accept it."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return "", _encoding_finding(data, exc)


def _unreadable_line(number: int, raw: bytes, exc: orjson.JSONDecodeError) -> Finding:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return finding("invalid_encoding", number, f"Byte {raw[bad.start]:#04x} at column {bad.start + 1} is not UTF-8.")
    return finding("invalid_json", number, f"Invalid JSON: {exc.msg} (column {exc.colno}).")


def _encoding_finding(data: bytes, exc: UnicodeDecodeError) -> Finding:
    line = data.count(b"\n", 0, exc.start) + 1
    return finding("invalid_encoding", line, f"Byte {data[exc.start]:#04x} on this line is not UTF-8, so the file was not read.")


def _skip_blank(text: str, position: int) -> int:
    length = len(text)
    while position < length and text[position] in " \t\r\n":
        position += 1
    return position
