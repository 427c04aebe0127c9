"""Helpers for the dataset tests: small files written the way people's files really look."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest


def chat(user: str, answer: str, system: str | None = "You are terse.") -> dict[str, Any]:
    messages = [{"role": "system", "content": system}] if system is not None else []
    return {"messages": [*messages, {"role": "user", "content": user}, {"role": "assistant", "content": answer}]}


def many_chats(count: int, system: str | None = "You are terse.") -> list[dict[str, Any]]:
    return [chat(f"Question number {n} about topic {n * 7}?", f"Answer {n}, explained in words.", system) for n in range(count)]


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[..., Path]:
    def write(records: Sequence[Any], name: str = "data.jsonl", newline: str = "\n") -> Path:
        path = tmp_path / name
        text = newline.join(json.dumps(record) if not isinstance(record, str) else record for record in records)
        path.write_bytes((text + newline).encode("utf-8"))
        return path

    return write
