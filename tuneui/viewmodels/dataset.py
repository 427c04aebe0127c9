"""The Dataset view's model: the examples of one workspace file, their findings, edits and saves.

The examples and findings come from `tuneui.core.dataset.whole_check`, as `tuneui data check`
reports them (token-based warnings, too_long and length_outlier, included). Every save
rewrites the file atomically as OpenAI chat JSONL, only files the workspace owns (under `data/`)
are ever written, and a save refuses a file that changed since the view read it (another app or
command wrote it): writing the view's stale copy would undo that edit without a word.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from tuneui.core.dataset.whole_check import load_checked
from tuneui.core.dataset.model import Example
from tuneui.core.files import atomic_write_lines
from tuneui.core.workspace import Workspace
from tuneui.errors import TuneError, UsageError


@dataclass(frozen=True)
class FindingRow:
    line: int | None
    severity: str
    code: str
    message: str
    hint: str


@dataclass(frozen=True)
class DatasetSnapshot:
    path: Path
    format: str
    examples: tuple[Example, ...]
    findings: tuple[FindingRow, ...]
    signature: str = ""  # sha256 of the bytes read: a save checks the file still holds them

    @property
    def editable(self) -> bool:
        return self.format == "chat" and self.path.suffix == ".jsonl"

    def lines_without_example(self) -> tuple[int, ...]:
        """The file's lines that hold no example (broken JSON, say): a save writes the examples,
        so it would drop these lines."""
        kept = {example.line for example in self.examples}
        return tuple(sorted({f.line for f in self.findings if f.severity == "error" and f.line is not None and f.line not in kept}))

    def codes_at(self, line: int | None) -> tuple[str, ...]:
        return tuple(sorted({f.code for f in self.findings if f.line == line and line is not None}))

    def codes(self) -> tuple[str, ...]:
        return tuple(sorted({f.code for f in self.findings}))

    def matching(self, search: str = "", code: str = "") -> list[int]:
        """Positions of the examples whose text contains `search` and that have finding `code`."""
        needle = search.lower()
        positions = []
        for position, example in enumerate(self.examples):
            if code and code not in self.codes_at(example.line):
                continue
            if needle and needle not in _searchable(example):
                continue
            positions.append(position)
        return positions


def dataset_file(workspace: Workspace) -> Path | None:
    """The file the Dataset view shows: the imported examples, else the training split."""
    imported = workspace.imported_files()
    if imported:
        return workspace.data_dir / imported[0]
    return workspace.train_file if workspace.train_file.is_file() else None


class DatasetChangedError(TuneError):
    """The file changed on disk since the view read it; the edit was not written."""


def read_dataset(path: Path) -> DatasetSnapshot:
    # The signature first: a write after it makes the save refuse, never pass on stale content.
    signature = _signature(path)
    loaded = load_checked(path, partner=_split_partner(path))
    findings = [FindingRow(f.line, "error", f.code, f.message, f.hint or "") for f in loaded.errors]
    findings += [FindingRow(f.line, "warning", f.code, f.message, f.hint or "") for f in loaded.warnings]
    return DatasetSnapshot(path, loaded.format, loaded.examples, tuple(findings), signature)


def save_examples(workspace: Workspace, path: Path, examples: Sequence[Example], read: DatasetSnapshot | None = None) -> DatasetSnapshot:
    """Rewrite the file atomically and check it again; refuses anything outside the workspace's data/,
    and a file that no longer holds what `read` (the snapshot the edit was made on) read."""
    if workspace.data_dir.resolve() not in path.resolve().parents:
        raise UsageError(f"{path} is not a workspace file", "Import it first (`/import PATH`); your original stays untouched.")
    if read is not None and _signature(path) != read.signature:
        raise DatasetChangedError(
            f"{path.name} changed on disk since this view read it (another tuneui or a command wrote it); your edit was not saved",
            "The view now shows the file as it is: make the edit again there.",
        )
    atomic_write_lines(path, (json.dumps(e.to_chat(), ensure_ascii=False) for e in examples))
    return read_dataset(path)


def _signature(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return "missing"
    return digest.hexdigest()


def _split_partner(path: Path) -> Path | None:
    """The other split file when `path` is one of the project's splits (data/train.jsonl and
    data/val.jsonl), as `tuneui data check` pairs them: an example in both is leakage."""
    partner = {"train.jsonl": "val.jsonl", "val.jsonl": "train.jsonl"}.get(path.name)
    return path.with_name(partner) if partner and path.with_name(partner).is_file() else None


def with_messages(example: Example, contents: Sequence[Any]) -> Example:
    """The example with its messages' contents replaced, roles and other keys kept."""
    messages = tuple({**dict(message), "content": content} for message, content in zip(example.messages, contents))
    return replace(example, messages=messages)


def blank_example(system_prompt: str) -> Example:
    messages: list[Mapping[str, Any]] = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages += [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}]
    return Example(messages=tuple(messages))


def _searchable(example: Example) -> str:
    return "\n".join(str(m.get("content") or "") for m in example.messages).lower()
