"""Opening a dataset file of any supported layout as a stream of Examples and Findings, and loading it."""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Union

import orjson
from tuneui.core.dataset import sources
from tuneui.core.dataset.findings import Finding, finding
from tuneui.core.dataset.formats import (
    FORMATS,
    Converted,
    auto_mapping,
    converter,
    detect_record_format,
    row_converter,
)
from tuneui.core.dataset.model import Example
from tuneui.errors import TuneError, UsageError

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
FORMAT_CHOICES = (*FORMATS, "tsv")

Item = Union[Example, Finding]


@dataclass(frozen=True)
class Records:
    """An opened dataset: its layout name (as reported by `check --json`) and its items, in file order."""

    format: str
    items: Iterator[Item]


@dataclass(frozen=True)
class LoadResult:
    """A whole dataset in memory: the usable examples and what is wrong with the file.

    `errors` are the records that could not become examples; `warnings` are the checks that need
    no token counts (duplicates, contradictions, system prompts, ...). `tuneui data check` adds
    token-based warnings (too_long, length_outlier).
    """

    examples: tuple[Example, ...]
    format: str
    errors: tuple[Finding, ...]
    warnings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_mapping(text: str | None) -> dict[str, str] | None:
    """`prompt=question,response=answer[,system=sys]` -> a dict; None passes through."""
    if not text:
        return None
    mapping: dict[str, str] = {}
    for part in text.split(","):
        role, sep, column = part.partition("=")
        role = role.strip().lower()
        if not sep or role not in ("prompt", "response", "system") or not column.strip():
            raise UsageError(
                f"--map: cannot read {part.strip()!r}",
                "Write it as prompt=COLUMN,response=COLUMN (and optionally system=COLUMN).",
            )
        mapping[role] = column.strip()
    return mapping


def open_records(
    path: str | os.PathLike[str], format: str | None = None, mapping: Mapping[str, str] | None = None
) -> Records:
    """Open `path` for streaming; the layout is detected unless `format` names it."""
    path = Path(path)
    if format is not None and format not in FORMAT_CHOICES:
        raise UsageError(f"Unknown format {format!r}", f"Use one of {', '.join(FORMAT_CHOICES)}, or leave --format out to detect it.")
    if format == "hf" or (format is None and (path.is_dir() or path.suffix.lower() == ".parquet")):
        return _open_hf(path, mapping)
    head = sources.read_head(path)
    binary = sources.binary_finding(head)
    is_table = format in ("csv", "tsv") or (format is None and path.suffix.lower() in TABLE_SUFFIXES)
    if binary is not None:
        return Records("csv" if is_table else format or "chat", iter([binary]))
    if is_table:
        delimiter = "\t" if format == "tsv" or TABLE_SUFFIXES.get(path.suffix.lower()) == "\t" else ","
        return _open_table(path, delimiter, mapping)
    return _open_json(path, head, format, mapping)


def iter_examples(
    path: str | os.PathLike[str], format: str | None = None, mapping: Mapping[str, str] | None = None
) -> Iterator[Item]:
    return open_records(path, format, mapping).items


def load(
    path: str | os.PathLike[str], format: str | None = None, mapping: Mapping[str, str] | None = None
) -> LoadResult:
    """Read a whole dataset: examples, its layout, and its errors and (token-free) warnings.

    Bad data never raises: it becomes findings with their line. Raises `TuneError` (exit 2) only
    when the file cannot be read at all or the arguments are wrong.
    """
    from tuneui.core.dataset.audit import Audit

    records = open_records(path, format, mapping)
    audit = Audit()
    examples: list[Example] = []
    for item in records.items:
        if isinstance(item, Example):
            examples.append(item)
        audit.add(item)
    errors, warnings = audit.findings()
    return LoadResult(tuple(examples), records.format, tuple(errors), tuple(warnings))


def import_file(
    path: str | os.PathLike[str], target: str | os.PathLike[str], format: str | None = None, mapping: Mapping[str, str] | None = None
) -> tuple[int, LoadResult]:
    """Read a dataset and write its examples to `target` as chat JSONL, streaming: memory holds the
    findings and a few numbers per example, never the examples themselves.

    `target` is replaced atomically, and only when the file has no errors. Returns (examples written,
    the result with its findings; its `examples` are left empty).
    """
    from tuneui.core.dataset.audit import Audit
    from tuneui.core.files import AtomicWriter

    records = open_records(path, format, mapping)
    audit = Audit()
    count = 0
    try:
        with AtomicWriter(target) as out:
            for item in records.items:
                audit.add(item)
                if isinstance(item, Example):
                    out.write(_chat_line(item))
                    count += 1
            errors, warnings = audit.findings()
            if not errors:
                out.commit()
    except OSError as exc:  # the project's side: a full disk, a folder where the file goes
        raise TuneError(
            f"Cannot import {path} into {target}: {exc.strerror or exc}",
            f"Check that {Path(target).parent} is a writable folder with free space and that {Path(target).name} in it is not a folder.",
        ) from None
    return (0 if errors else count), LoadResult((), records.format, tuple(errors), tuple(warnings))


def _chat_line(example: Example) -> bytes:
    record = example.to_chat()
    try:
        return orjson.dumps(record) + b"\n"
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, legal in a .json document: kept as written
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def read_chat_jsonl(path: str | os.PathLike[str]) -> list[Example]:
    """The examples of a train/val file (OpenAI chat JSONL), or a TuneError naming the first bad line."""
    examples: list[Example] = []
    for item in iter_examples(path, "chat"):
        if isinstance(item, Finding):
            where = f"{path}:{item.line}" if item.line else str(path)
            raise TuneError(f"{where}: {item.message}", item.hint, exit_code=1)
        examples.append(item)
    return examples


def _open_json(path: Path, head: bytes, format: str | None, mapping: Mapping[str, str] | None) -> Records:
    start = sources.first_char(head)
    is_jsonl = path.suffix.lower() == ".jsonl"
    if is_jsonl and start == "[":
        wrong = finding(
            "data_type", 1, "The file is one JSON array, but a .jsonl file holds one JSON object per line.",
            "Rename the file to .json (tuneui reads arrays there), or write one example per line.",
        )
        return Records(format or "chat", iter([wrong]))
    # A .jsonl file is read line by line even when its first line is broken, so that one bad line
    # does not hide the rest; other names may hold one pretty-printed JSON document.
    if not is_jsonl and (start == "[" or (start and not sources.first_line_is_json(path))):
        raw: Iterator[Any] = sources.iter_json_document(path)
    else:
        raw = sources.iter_jsonl(path)
    if format is not None and mapping is None:
        return Records(format, _convert(raw, converter(format)))
    peeked, raw = _peek_record(raw)
    layout = None if mapping else detect_record_format(peeked)
    if layout is None and isinstance(peeked, Mapping):
        # Flat records ({"question": ..., "answer": ...}) read like table rows: by --map, or by
        # field names tuneui recognizes. They are reported as prompt-completion, their closest layout.
        fields = mapping or auto_mapping([str(key) for key in peeked])
        if "prompt" in fields and "response" in fields:
            return Records("prompt-completion", _convert(raw, row_converter(fields)))
    return Records(layout or "chat", _convert(raw, converter(layout or "chat")))


def _open_table(path: Path, delimiter: str, mapping: Mapping[str, str] | None) -> Records:
    header, rows, bad = sources.read_csv(path, delimiter)
    if bad is not None:
        return Records("csv", iter([bad]))
    return Records("csv", _convert(rows, _table_converter(path, header, mapping)))


def _open_hf(path: Path, mapping: Mapping[str, str] | None) -> Records:
    from tuneui.core.dataset.hf import read_rows

    columns, rows = read_rows(path)
    return Records("hf", _convert(rows, _table_converter(path, columns, mapping)))


def _table_converter(path: Path, columns: list[str], mapping: Mapping[str, str] | None) -> Callable[[Any, int, int], Converted]:
    """Rows that already are records (messages, conversations, instruction/output) convert as such;
    other rows go through the prompt/response column mapping."""
    if mapping is None:
        layout = detect_record_format({name: None for name in columns})
        if layout is not None:
            return converter(layout)
        mapping = auto_mapping(columns)
    missing = [role for role in ("prompt", "response") if role not in mapping]
    unknown = [column for column in mapping.values() if column not in columns]
    if missing or unknown:
        problem = f"no {' or '.join(missing)} column" if missing else f"no column {', '.join(map(repr, unknown))}"
        # Quoted like the unknown ones: a header cell is data, and its control characters must not reach the terminal.
        raise UsageError(
            f"{path}: {problem} (columns: {', '.join(map(repr, columns)) or 'none'})",
            "Name the columns with --map prompt=COLUMN,response=COLUMN[,system=COLUMN].",
        )
    twice = [column for column in dict.fromkeys(mapping.values()) if columns.count(column) > 1]
    if twice:  # each row keeps only the last of the cells under one name: the other would be lost unseen
        raise UsageError(
            f"{path}: the header names the column {twice[0]!r} twice, so which one holds the text is unclear",
            "Rename one of the two columns in the header row, then run the command again.",
        )
    return row_converter(mapping)


def _peek_record(raw: Iterator[Any]) -> tuple[Any, Iterator[Any]]:
    """The first readable record (for layout detection), with the stream rewound to its start."""
    seen: list[Any] = []
    for item in raw:
        seen.append(item)
        if not isinstance(item, Finding):
            return item[1], itertools.chain(seen, raw)
    return None, iter(seen)


def _convert(raw: Iterable[Any], convert: Callable[[Any, int, int], Converted]) -> Iterator[Item]:
    index = 0
    for item in raw:
        if isinstance(item, Finding):
            yield item
            continue
        line, record = item
        result = convert(record, line, index)
        index += 1
        if isinstance(result, Example):
            yield result
        else:
            yield from result
