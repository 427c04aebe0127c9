"""Datasets: readers -> one Example model -> checks -> split -> writers.

The public surface:

- `load(path, format=None, mapping=None) -> LoadResult(examples, format, errors, warnings)`
- `check(path, ...) -> CheckReport` (what `tuneui data check` prints; adds exact token counts)
- `split(examples, val_fraction=0.15, seed=0) -> Split`, `write_split(split, train_path, val_path)`
- `stats(examples, encoding=...) -> DatasetStats`
- `read_chat_jsonl(path) -> list[Example]` for `data/train.jsonl` and `data/val.jsonl`
- `write_chat_jsonl(path, examples)` (atomic)
- `detect_task_type(examples) -> "classification" | "json" | "freetext"`
"""

from tuneui.core.dataset.audit import audit_examples, find_leakage
from tuneui.core.dataset.checks import CheckReport, check
from tuneui.core.dataset.findings import CODES, Finding
from tuneui.core.dataset.formats import FORMATS
from tuneui.core.dataset.loader import LoadResult, iter_examples, load, parse_mapping, read_chat_jsonl
from tuneui.core.dataset.model import Example
from tuneui.core.dataset.split import Split, SplitError, split, write_split
from tuneui.core.dataset.stats import DatasetStats, stats
from tuneui.core.dataset.tasktype import detect_task_type
from tuneui.core.dataset.writer import write_chat_jsonl

__all__ = [
    "CODES",
    "FORMATS",
    "CheckReport",
    "DatasetStats",
    "Example",
    "Finding",
    "LoadResult",
    "Split",
    "SplitError",
    "audit_examples",
    "check",
    "detect_task_type",
    "find_leakage",
    "iter_examples",
    "load",
    "parse_mapping",
    "read_chat_jsonl",
    "split",
    "stats",
    "write_chat_jsonl",
    "write_split",
]
