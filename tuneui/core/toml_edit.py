"""Changing one value of `tuneui.toml` and nothing else: comments, order, spacing and every other
line stay as the user wrote them (the guide writes a user's answers; `tomli_w` would rewrite the file).

Only a plain `key = value` line of a `[table]` is replaced (a multi-line string included); the key
is added at the end of its table, or a new table at the end of the file, when it is not there. The
result is parsed before it is written: an edit that would not read back as the value is refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tuneui.core.files import atomic_write_text
from tuneui.errors import WorkspaceError

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

_TABLE = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+)\s*=\s*(.*)$")


def toml_value(value: Any) -> str:
    """A TOML literal for a string, bool, int or float (JSON's string escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def set_value(path: Path, table: str, key: str, value: Any) -> None:
    """Set `[table] key = value` in the TOML file at `path`, changing only that value's lines."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    edited = with_value(text, table, key, value)
    try:
        read_back: Any = tomllib.loads(edited)
        for part in [*table.split("."), key]:
            read_back = read_back.get(part) if isinstance(read_back, dict) else None
    except tomllib.TOMLDecodeError as exc:
        raise WorkspaceError(f"Could not set [{table}] {key} in {path.name}: {exc}", "Edit the file by hand.") from None
    if read_back != value:
        raise WorkspaceError(f"Could not set [{table}] {key} in {path.name}", "Edit the file by hand.")
    atomic_write_text(path, edited)


def with_value(text: str, table: str, key: str, value: Any) -> str:
    lines = text.splitlines(keepends=True)
    line = f"{key} = {toml_value(value)}\n"
    start, end = _table_span(lines, table)
    if start is None:
        gap = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        return text + gap + f"[{table}]\n" + line
    index = start + 1
    last_value = start
    while index < end:
        match = _KEY.match(lines[index])
        if match is None:
            index += 1
            continue
        stop = _value_end(lines, index, match.group(2))
        if match.group(1).strip("\"'") == key:
            comment = _trailing_comment(lines[stop - 1]) if stop == index + 1 else ""
            replaced = line if not comment else line.rstrip("\n") + "  " + comment + "\n"
            return "".join(lines[:index] + [replaced] + lines[stop:])
        last_value = stop - 1
        index = stop
    if lines and not lines[last_value].endswith("\n"):
        lines[last_value] += "\n"
    return "".join(lines[: last_value + 1] + [line] + lines[last_value + 1 :])


def _table_span(lines: list[str], table: str) -> tuple[int | None, int]:
    start = None
    for index, line in enumerate(lines):
        match = _TABLE.match(line)
        if match is None:
            continue
        if start is not None:
            return start, index
        if match.group(1).strip() == table:
            start = index
    return start, len(lines)


def _value_end(lines: list[str], index: int, value: str) -> int:
    """The index after the last line of a value that starts on `lines[index]`."""
    for quote in ('"""', "'''"):
        if value.lstrip().startswith(quote):
            rest = value.lstrip()[3:]
            if quote in rest:
                return index + 1
            for later in range(index + 1, len(lines)):
                if quote in lines[later]:
                    return later + 1
    if value.lstrip().startswith("[") and "]" not in value:
        for later in range(index + 1, len(lines)):
            if lines[later].strip().startswith("]") or lines[later].rstrip().endswith("]"):
                return later + 1
    return index + 1


def _trailing_comment(line: str) -> str:
    """A `# comment` after a simple value (strings may contain '#': a cheap scan outside quotes)."""
    quote = ""
    for position, char in enumerate(line):
        if quote:
            if char == quote and line[position - 1] != "\\":
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[position:].rstrip("\n")
    return ""
