"""Mechanical fixes of the project's copy of the examples (`data/all.jsonl`), planned as a diff
before anything is written, and undone by one step.

The file the user imported is never touched: `tuneui data import` copied it into the project, and
only that copy changes. Each fix keeps the file's line order (a finding's line stays where it was
shown) and changes only what its finding names:

- `system`: the project's system prompt in every example (fixes `missing_system` and
  `inconsistent_system`): added where an example has none, replaced where it differs;
- `duplicate`: exact repeats dropped, the first of each kept;
- `whitespace`: spaces and blank lines around each message's text trimmed.

Before a fix is written the file is kept as `data/.undo/all.jsonl`; `undo` puts it back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tuneui.core.files import atomic_write_bytes, atomic_write_text
from tuneui.errors import TuneError

UNDO_FOLDER = ".undo"

# fix name -> (what it does, the finding codes it clears)
FIXES: dict[str, tuple[str, tuple[str, ...]]] = {
    "system": ("add the project's system prompt to every example", ("missing_system", "inconsistent_system")),
    "duplicate": ("drop exact duplicates, keeping the first", ("duplicate",)),
    "whitespace": ("trim spaces and blank lines around each message", ()),
}


def fix_for(code: str) -> str | None:
    """The fix that clears a finding code, if it has a mechanical one."""
    return next((name for name, (_, codes) in FIXES.items() if code in codes), None)


@dataclass(frozen=True)
class Change:
    line: int  # 1-based line of the file before the fix
    before: str  # the line as it was
    after: str | None  # the line after the fix; None when the line is dropped


@dataclass(frozen=True)
class FixPlan:
    fix: str
    path: Path
    lines: tuple[str, ...]  # the file after the fix, one JSON object each
    changes: tuple[Change, ...]
    original: bytes = b""  # the file the plan was made from: a file changed since is not overwritten

    def diff(self, limit: int = 6, width: int = 70) -> list[str]:
        """The first changes as `-`/`+` lines, each cut to `width`, then how many more."""
        shown: list[str] = []
        for change in self.changes[:limit]:
            if change.after is None:
                shown += [f"- {change.line}: {_cut(change.before, 0, width)}", f"+ {change.line}: (dropped)"]
                continue
            # Each side from a little before where they differ: a trimmed space at the end shows.
            start = max(0, _common_prefix(change.before, change.after) - 12)
            shown += [f"- {change.line}: {_cut(change.before, start, width)}", f"+ {change.line}: {_cut(change.after, start, width)}"]
        if len(self.changes) > limit:
            shown.append(f"… and {len(self.changes) - limit} more changed lines")
        return shown


def plan_fix(path: Path, fix: str, *, system_prompt: str = "", line: int | None = None) -> FixPlan:
    """What `fix` would change in the JSONL file `path` (only on `line` when given); writes nothing."""
    if fix not in FIXES:
        raise TuneError(f"There is no fix called {fix!r}", "Fixes: " + ", ".join(FIXES) + ".")
    if fix == "system" and not system_prompt.strip():
        raise TuneError("The project has no system prompt to add", "Set one first: type /system followed by the prompt.")
    original = _read_bytes(path)
    originals = [line for line in original.decode("utf-8", errors="replace").splitlines() if line.strip()]
    records = [_record(path, number, text) for number, text in enumerate(originals, start=1)]
    changes: list[Change] = []
    kept: list[str] = []
    seen: set[str] = set()
    for number, (text, record) in enumerate(zip(originals, records), start=1):
        if line is not None and number != line:
            kept.append(text)
            seen.add(_identity(record))
            continue
        if fix == "duplicate":
            identity = _identity(record)
            if identity in seen:
                changes.append(Change(number, text, None))
                continue
            seen.add(identity)
            kept.append(text)
            continue
        edit: Callable[[dict[str, Any]], bool] = _with_system(system_prompt) if fix == "system" else _trimmed
        if edit(record):
            after = json.dumps(record, ensure_ascii=False)
            changes.append(Change(number, text, after))
            kept.append(after)
        else:
            kept.append(text)
    return FixPlan(fix, path, tuple(kept), tuple(changes), original)


def apply_fix(plan: FixPlan) -> int:
    """Write the plan (the file before it kept for `undo`); returns how many lines changed."""
    if not plan.changes:
        return 0
    current = _read_bytes(plan.path)
    if current != plan.original:
        raise TuneError(f"{plan.path.name} changed since the fix was shown", "Ask for the fix again: it is planned on the file as it is now.")
    atomic_write_bytes(undo_path(plan.path), current)
    atomic_write_text(plan.path, "".join(text + "\n" for text in plan.lines))
    return len(plan.changes)


def undo_path(path: Path) -> Path:
    return path.parent / UNDO_FOLDER / path.name


def can_undo(path: Path) -> bool:
    return undo_path(path).is_file()


def undo_fix(path: Path) -> None:
    """The file as it was before the last fix; the undo is used up."""
    saved = undo_path(path)
    if not saved.is_file():
        raise TuneError(f"There is no fix of {path.name} to undo", "Fixes are offered in the Dataset step's findings.")
    atomic_write_bytes(path, saved.read_bytes())
    saved.unlink()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TuneError(f"Cannot read {path.name}: {exc.strerror}", "Import the examples again (/import PATH).") from None


def _record(path: Path, number: int, text: str) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
        raise TuneError(f"{path.name}, line {number}: not a chat example", "Import the examples again (/import PATH); fixes need the project's chat JSONL.")
    return record


def _identity(record: dict[str, Any]) -> str:
    return json.dumps(record.get("messages"), sort_keys=True, ensure_ascii=False)


def _with_system(prompt: str) -> Callable[[dict[str, Any]], bool]:
    def edit(record: dict[str, Any]) -> bool:
        messages = record["messages"]
        systems = [m for m in messages if isinstance(m, dict) and m.get("role") == "system"]
        if not systems:
            messages.insert(0, {"role": "system", "content": prompt})
            return True
        changed = False
        for message in systems:
            if message.get("content") != prompt:
                message["content"] = prompt
                changed = True
        return changed

    return edit


def _trimmed(record: dict[str, Any]) -> bool:
    changed = False
    for message in record["messages"]:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str) and content.strip() != content:
            message["content"] = content.strip()
            changed = True
    return changed


def _common_prefix(first: str, second: str) -> int:
    length = 0
    for a, b in zip(first, second):
        if a != b:
            break
        length += 1
    return length


def _cut(text: str, start: int, width: int) -> str:
    shown = ("…" if start else "") + text[start:]
    return shown if len(shown) <= width else shown[: width - 1] + "…"
