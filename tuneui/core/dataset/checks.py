"""`check`: read a dataset once, streaming, count its tokens exactly and report every finding.

This is the code path of `tuneui data check`; its `CheckReport.to_json()` is the command's JSON.
"""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from tuneui.core import tokens as token_counts
from tuneui.core.dataset.audit import Audit
from tuneui.core.dataset.findings import Finding
from tuneui.core.dataset.loader import iter_examples, open_records
from tuneui.core.dataset.model import Example
from tuneui.core.dataset.whole_check import DEFAULT_MODEL, is_openai_model, openai_example_limit
from tuneui.core.cpu import cpu_cores
from tuneui.core.token_workers import Collect, CountingPool
from tuneui.errors import TuneError

# Examples whose tokens are counted together: enough for repeated system prompts to be encoded
# once and for a frame to the counting helpers to repay its trip, few enough that their text is a
# small part of memory.
BATCH_EXAMPLES = 2048
# Below this size a file is checked in well under a second, and helper processes would not pay
# for their start.
POOL_MIN_BYTES = 8 * 1024 * 1024
# Each helper holds its own encoding tables (about 90 MB). Past four, the reading process is the
# bottleneck: it spends about 0.85 s per 100,000 examples reading, checking and auditing, and four
# helpers count the hardest measured file's tokens (1.75 s of CPU) in less.
MAX_HELPERS = 4

Counter = Callable[[Sequence[Sequence[Mapping[str, Any]]]], list[int]]


@dataclass(frozen=True)
class CheckReport:
    """What `tuneui data check` found. `examples` counts the usable examples, `per_example` their tokens."""

    file: str
    format: str
    examples: int
    errors: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    encoding: str
    per_example: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total_tokens(self) -> int:
        return sum(self.per_example)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "examples": self.examples,
            "errors": [item.to_json() for item in self.errors],
            "warnings": [item.to_json() for item in self.warnings],
            "tokens": {"encoding": self.encoding, "per_example": list(self.per_example), "total": self.total_tokens},
        }


def check(
    path: str | os.PathLike[str],
    format: str | None = None,
    mapping: Mapping[str, str] | None = None,
    *,
    encoding: str | None = None,
    model: str | None = None,
    token_limit: int | None = None,
    partner: str | os.PathLike[str] | None = None,
) -> CheckReport:
    """Check one dataset file.

    Tokens are counted with `encoding` (default o200k_base), or for `model`: an OpenAI model's
    encoding, or a local model's own tokenizer and chat template (this imports transformers: run
    it in a worker, not in the UI). `token_limit` defaults to the model's per-example limit
    (65,536 for the gpt-4o-mini and gpt-4.1 families); a local model has no default, pass its
    max length. `partner` is the other split file: examples found in both are `leakage`.
    """
    if encoding and model:
        raise TuneError("Pass --encoding or --model, not both", "--model chooses the encoding for you.")
    label, count = _counter(encoding, model)
    if token_limit is None and (model is None or is_openai_model(model)):
        token_limit = openai_example_limit(model or DEFAULT_MODEL)
    records = open_records(path, format, mapping)
    audit = Audit()
    if partner is not None:
        audit.watch_leakage((item for item in iter_examples(partner, "chat") if isinstance(item, Example)), Path(partner).name)
    counting = _Counting(audit, count, _pool_for(path, label) if label in token_counts.ENCODINGS else None)
    with _no_cycle_collection(), counting:
        batch: list[Example] = []
        for item in records.items:
            if type(item) is not Example:  # a Finding
                audit.add(item)
                continue
            batch.append(item)
            if len(batch) >= BATCH_EXAMPLES:
                counting.add(batch)
                batch = []
        counting.add(batch)
        counting.finish()
    errors, warnings = audit.findings(token_limit, model or "")
    return CheckReport(str(path), records.format, audit.example_count, tuple(errors), tuple(warnings), label, tuple(counting.per_example))


class _Counting:
    """Counts each batch's tokens and adds its examples to the audit, in file order.

    With a pool, batch k is counted in the helpers while the caller reads batch k+1; without one,
    in line.
    """

    def __init__(self, audit: Audit, count: Counter, pool: CountingPool | None) -> None:
        self.audit, self.count, self.pool = audit, count, pool
        self.per_example: list[int] = []
        self._pending: tuple[list[Example], token_counts.CountPlan, Collect] | None = None

    def add(self, batch: list[Example]) -> None:
        if not batch:
            return
        if self.pool is None:
            self._record(batch, self.count([example.messages for example in batch]))
            return
        plan = token_counts.plan_counts([example.messages for example in batch])
        counted = self._collect()  # the helpers answer one frame at a time
        self._pending = (batch, plan, self.pool.submit(plan.texts))
        if counted:
            self._record(*counted)  # while the helpers count this batch

    def finish(self) -> None:
        counted = self._collect()
        if counted:
            self._record(*counted)

    def _collect(self) -> tuple[list[Example], list[int]] | None:
        if self._pending is None:
            return None
        batch, plan, collect = self._pending
        self._pending = None
        return batch, plan.totals(collect())

    def __enter__(self) -> "_Counting":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.close()

    def _record(self, batch: list[Example], counts: list[int]) -> None:
        for example, tokens in zip(batch, counts):
            self.audit.add(example, tokens)
        self.per_example.extend(counts)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector while a file is read. Parsed JSON holds no reference cycles,
    so the collector frees nothing here, yet it walks every young dict and list of each batch
    about every 700 allocations: 12 % of the reading, measured on 100,000 examples."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _pool_for(path: str | os.PathLike[str], encoding: str) -> CountingPool | None:
    """Helpers for a file big enough to repay starting them (~0.1 s each): one per POOL_MIN_BYTES
    of file, at most one per core but the caller's (which reads the file and counts a share too)
    and at most MAX_HELPERS."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return None
    helpers = min(size // max(POOL_MIN_BYTES, 1), cpu_cores() - 1, MAX_HELPERS)
    return CountingPool(encoding, helpers) if helpers > 0 else None


def _counter(encoding: str | None, model: str | None) -> tuple[str, Counter]:
    """(the name reported as the encoding, a function counting a batch of examples)."""
    if model and not is_openai_model(model):
        tokenizer = _local_tokenizer(model)
        return model, lambda lists: token_counts.count_with_tokenizer(tokenizer, lists)
    name = token_counts.encoding_for_model(model) if model else encoding or token_counts.DEFAULT_ENCODING
    if name not in token_counts.ENCODINGS:  # fail before reading the file, not after
        raise TuneError(f"Unknown token encoding {name!r}", f"Use one of {', '.join(token_counts.ENCODINGS)}, or pass --model.")
    return name, lambda lists: token_counts.count_examples(lists, name)


def _local_tokenizer(model: str) -> Any:
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise TuneError(
            f"Counting tokens for the local model {model} needs transformers",
            "Install the local extra: `pip install 'tuneui[local]'`, or check with an OpenAI --model.",
        ) from None
    try:
        return AutoTokenizer.from_pretrained(model)
    except Exception as exc:  # tokenizer files are the model author's: a broken one raises anything (KeyError, ...)
        detail = f"its tokenizer files lack {exc}" if isinstance(exc, KeyError) else (str(exc).splitlines() or [type(exc).__name__])[0]
        raise TuneError(
            f"Cannot load the tokenizer of {model}: {detail}",
            "Name a local model folder with complete tokenizer files, or a Hugging Face id already in the local cache.",
        ) from None
