"""Raw records out of files: JSONL lines, JSON values and CSV rows, each with the line it starts on.

Readers yield `(line, record)` pairs, or a `Finding` where a record cannot be read. Input files are
only ever opened for reading.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import stat
from pathlib import Path
from typing import Any, Iterator, Union

import orjson

from tuneui.core.dataset.findings import Finding, finding
from tuneui.errors import TuneError

BOM = b"\xef\xbb\xbf"
# Byte-order marks of the wider Unicode encodings (spreadsheet exports on Windows write UTF-16).
# UTF-32 LE first: its mark starts with UTF-16 LE's.
WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)  # fmt: skip
BINARY_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF", b"\x1f\x8b", b"PAR1")
SNIFF_BYTES = 8192
# csv refuses fields over 128 KiB by default; long documents in a cell are legitimate data.
CSV_FIELD_LIMIT = 2**31 - 1
# A \uD800-\uDFFF escape is half of a UTF-16 pair. A half without its partner is legal JSON syntax
# but no character: it cannot be written as UTF-8, so such a record is refused in every layout.
_LONE_SURROGATE_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)

Item = Union[tuple[int, Any], Finding]


class SourceError(TuneError):
    """The file cannot be read at all (missing, a folder, no permission): exit 2."""


def read_head(path: Path) -> bytes:
    """The first bytes of a file, for sniffing; raises SourceError when it cannot be opened."""
    try:
        # Before opening: a FIFO would block open() and read() until a writer comes, forever.
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket or special file"
            raise SourceError(f"{path} is not a regular file (it is {kind})", "Save the examples to a file and name that file.")
        with open(path, "rb") as handle:
            return handle.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file", "Check the path, or run `tuneui data import FILE` first.") from None
    except IsADirectoryError:
        raise SourceError(f"{path} is a folder", "Name a data file, or a Hugging Face dataset folder with --format hf.") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})", "Check the file's permissions.") from None


def wide_encoding(head: bytes) -> str | None:
    """"utf-16" or "utf-32" when the file starts with that encoding's byte-order mark."""
    for mark, name in WIDE_BOMS:
        if head.startswith(mark):
            return name
    return None


def binary_finding(head: bytes) -> Finding | None:
    """A binary file (a spreadsheet, an archive) by its signature or its share of control bytes.

    One stray NUL in a text file is not this: it is reported on its own line by the readers.
    """
    if wide_encoding(head):
        return None
    controls = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 12, 13, 27))
    if not head.startswith(BINARY_SIGNATURES) and controls * 20 <= len(head):
        return None
    position = max(head.find(b"\x00"), 0)
    return finding(
        "invalid_encoding",
        head.count(b"\n", 0, position) + 1,
        "The file is binary, not text (it contains NUL or other control bytes).",
        "Export the data as UTF-8 JSONL, JSON or CSV; for parquet files pass --format hf.",
    )


def _byte_lines(path: Path) -> Iterator[bytes]:
    """The file's lines as UTF-8 bytes: UTF-16/UTF-32 files (by their mark) are decoded on the way."""
    with open(path, "rb") as handle:
        wide = wide_encoding(handle.read(4))
        handle.seek(0)
        if wide is None:
            yield from handle
            return
        for text in io.TextIOWrapper(handle, encoding=wide, errors="replace", newline=""):
            yield text.lstrip("\ufeff").encode("utf-8")


def first_char(head: bytes) -> str:
    """The first non-blank character, BOM skipped: '[' for a JSON array, '{' for objects."""
    wide = wide_encoding(head)
    if wide is not None:  # a UTF-16/32 file: its first character is in its own encoding
        head = head.decode(wide, errors="ignore").lstrip("\ufeff").encode("utf-8")
    stripped = head[len(BOM) :] if head.startswith(BOM) else head
    stripped = stripped.lstrip()
    return chr(stripped[0]) if stripped and stripped[0] < 128 else ""


def iter_jsonl(path: Path) -> Iterator[Item]:
    """One JSON value per line, streamed: memory stays flat however large the file is."""
    for number, raw in enumerate(_byte_lines(path), 1):
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        try:
            yield number, orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if raw.strip():
                yield _unreadable_line(number, raw, exc)


def first_line_is_json(path: Path) -> bool:
    """True when the first non-blank line is a complete JSON value (JSONL content, whatever the name)."""
    for raw in _byte_lines(path):
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
    may_hold_surrogates = "\\u" in text and _LONE_SURROGATE_ESCAPE.search(text) is not None
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
        except RecursionError:
            yield finding("invalid_json", line, "The JSON value starting here is nested too deeply to be an example.")
            return
        except ValueError:  # Python refuses integers of over 4,300 digits (a guard against slow parsing)
            yield finding("invalid_json", line, "The JSON value starting here holds a number of thousands of digits.", "Remove the number, or write it as a string.")
            return
        yield (_lone_surrogate(line, value) if may_hold_surrogates else None) or (line, value)
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
    # strict: a quote that is never closed is an error at its row, not a cell that eats the file.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        return [], iter(()), finding("invalid_json", 1, f"The header row cannot be read as CSV: {exc}.", "Fix the quoting in the header row.")
    return header, _csv_rows(reader, header, "\x00" in text), None


def _csv_rows(reader: Any, header: list[str], has_nul: bool) -> Iterator[Item]:
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                yield finding("invalid_json", start, "A quote opened in this row is never closed: the rest of the file would be one cell.", "Close the quote, or write a quote inside a cell twice (\"\").")
            else:
                yield finding("invalid_json", start, f"This row cannot be read as CSV: {exc}.", "Fix the quoting: a quote inside a quoted cell is written twice (\"\").")
            return
        if has_nul and any("\x00" in cell for cell in row):  # as in a JSONL line: a sign of a damaged export
            yield finding("invalid_encoding", start, "A NUL byte in this row: text data never holds one.", "Remove the byte, or export this row again.")
        elif any(cell.strip() for cell in row):
            yield start, {name: (row[i] if i < len(row) else None) for i, name in enumerate(header)}
        start = reader.line_num + 1


def _decode(data: bytes) -> tuple[str, Finding | None]:
    """Whole-file UTF-8 (BOM optional), or UTF-16/32 by their mark; CRLF needs no work since JSON
    and csv both accept it."""
    wide = wide_encoding(data[:4])
    if wide is not None:
        return data.decode(wide, errors="replace").lstrip("\ufeff"), None
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return "", _encoding_finding(data, exc)


def _lone_surrogate(line: int, value: Any) -> Finding | None:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        return _lone_surrogate_finding(line, f"\\u{ord(exc.object[exc.start]):04x}")
    return None


def _lone_surrogate_finding(line: int, escape: str) -> Finding:
    return finding(
        "invalid_encoding", line,
        f"The text holds the escape {escape}: half of a UTF-16 surrogate pair without its other half, which is no character.",
        "Write the character itself, or both halves of its pair (\\ud83d\\ude00 is 😀); remove the escape if it is noise.",
    )  # fmt: skip


def _unreadable_line(number: int, raw: bytes, exc: orjson.JSONDecodeError) -> Finding:
    nul = raw.find(b"\x00")
    if nul >= 0:
        return finding("invalid_encoding", number, f"A NUL byte at column {nul + 1}: text data never holds one.", "Remove the byte, or export this line again.")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return finding("invalid_encoding", number, f"Byte {raw[bad.start]:#04x} at column {bad.start + 1} is not UTF-8.")
    lone = _LONE_SURROGATE_ESCAPE.search(raw.decode("utf-8")) if "surrogate" in exc.msg else None
    if lone is not None:  # orjson refuses a lone surrogate escape; say what it is
        return _lone_surrogate_finding(number, lone.group().lower())
    if exc.msg == "unexpected content after document" and b"\r" in raw.rstrip(b"\r\n"):
        # Old Mac line ends: records separated by CR alone, so the whole file is one line.
        return finding(
            "invalid_json", number, "Records are separated by carriage returns (CR) alone, so they all read as this one line.",
            "Save the file with LF or CRLF line ends (an editor's line-ending setting), one record per line.",
        )  # fmt: skip
    return finding("invalid_json", number, f"Invalid JSON: {exc.msg} (column {exc.colno}).")


def _encoding_finding(data: bytes, exc: UnicodeDecodeError) -> Finding:
    line = data.count(b"\n", 0, exc.start) + 1
    return finding("invalid_encoding", line, f"Byte {data[exc.start]:#04x} on this line is not UTF-8, so the file was not read.")


def _skip_blank(text: str, position: int) -> int:
    length = len(text)
    while position < length and text[position] in " \t\r\n":
        position += 1
    return position
