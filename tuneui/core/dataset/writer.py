"""Writing examples back out as OpenAI chat JSONL, atomically."""

from __future__ import annotations

import os
from typing import Iterable

import orjson

from tuneui.core.dataset.model import Example
from tuneui.core.files import atomic_write_bytes


def write_chat_jsonl(path: str | os.PathLike[str], examples: Iterable[Example]) -> int:
    """Write one `{"messages": [...]}` object per line; returns how many were written."""
    lines = [orjson.dumps(example.to_chat()) for example in examples]
    atomic_write_bytes(path, b"".join(line + b"\n" for line in lines))
    return len(lines)
