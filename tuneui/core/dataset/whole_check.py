"""`tuneui data check`'s default check (o200k_base counts, the OpenAI per-example limit) on a file
read whole, for the app's Dataset view, which shows the examples themselves.

`checks` streams and may load a local model's tokenizer (`--model`), which imports transformers:
the UI process never may. This module reaches no tokenizer but tiktoken's, so the view lists the
same findings as the command, the token-based ones (too_long, length_outlier) included.
"""

from __future__ import annotations

import os
from pathlib import Path

from tuneui.core import tokens as token_counts
from tuneui.core.dataset.audit import Audit
from tuneui.core.dataset.loader import LoadResult, iter_examples, open_records
from tuneui.core.dataset.model import Example

# Per-example token limits of OpenAI fine-tuning (training context), longest prefix wins.
OPENAI_EXAMPLE_LIMITS = {
    "gpt-4o-mini": 65_536,
    "gpt-4o": 65_536,
    "gpt-4.1": 65_536,
    "gpt-3.5-turbo": 16_385,
}
DEFAULT_OPENAI_LIMIT = 65_536
DEFAULT_MODEL = "gpt-4o-mini"  # whose limit `tuneui data check` applies without --model
_OPENAI_PREFIXES = ("gpt-", "chatgpt-", "ft:", "davinci", "babbage")


def is_openai_model(model: str) -> bool:
    name = model.strip().lower()
    return name.startswith(_OPENAI_PREFIXES) or (len(name) > 1 and name[0] == "o" and name[1].isdigit())


def openai_example_limit(model: str) -> int:
    name = model.strip().lower()
    if name.startswith("ft:"):
        name = name[3:].split(":", 1)[0]
    matches = [prefix for prefix in OPENAI_EXAMPLE_LIMITS if name.startswith(prefix)]
    return OPENAI_EXAMPLE_LIMITS[max(matches, key=len)] if matches else DEFAULT_OPENAI_LIMIT


def load_checked(path: str | os.PathLike[str], partner: str | os.PathLike[str] | None = None) -> LoadResult:
    """The examples of a chat file and every finding `tuneui data check FILE` reports on it;
    `partner` is the other split file, whose shared examples are `leakage`."""
    records = open_records(path)
    audit = Audit()
    if partner is not None:
        audit.watch_leakage((item for item in iter_examples(partner, "chat") if isinstance(item, Example)), Path(partner).name)
    items = list(records.items)
    examples = [item for item in items if isinstance(item, Example)]
    counts = iter(token_counts.count_examples([example.messages for example in examples]))
    for item in items:
        audit.add(item, next(counts) if isinstance(item, Example) else None)
    errors, warnings = audit.findings(openai_example_limit(DEFAULT_MODEL))
    return LoadResult(tuple(examples), records.format, tuple(errors), tuple(warnings))
