"""Findings and statistics as plain text for the terminal: grouped by code, each with file:line."""

from __future__ import annotations

from itertools import groupby
from typing import Sequence

from tuneui.core.dataset.findings import CODES, Finding
from tuneui.core.dataset.stats import RETRIEVAL_NOTE, DatasetStats, Distribution

SHOWN_PER_CODE = 10  # beyond this a list stops being read; --json has them all


def findings_text(file: str, findings: Sequence[Finding], heading: str) -> list[str]:
    """`heading` then one block per code: its hint once, and up to SHOWN_PER_CODE located messages."""
    if not findings:
        return []
    lines = [f"{heading} ({len(findings):,})"]
    order = list(CODES)
    for code, group in groupby(sorted(findings, key=lambda f: (order.index(f.code), f.line or 0)), key=lambda f: f.code):
        items = list(group)
        lines.append(f"  {code} ({len(items):,})")
        if len(items) > 1 and len({item.message for item in items}) == 1:
            # 1,000 examples without a system prompt read better as one line of line numbers.
            # Records of a one-line JSON array share a line: each number is shown once.
            numbers = list(dict.fromkeys(item.line for item in items if item.line is not None))
            shown = ", ".join(str(number) for number in numbers[:SHOWN_PER_CODE])
            more = f" and {len(numbers) - SHOWN_PER_CODE:,} more" if len(numbers) > SHOWN_PER_CODE else ""
            where = f"{file}: {'line' if len(numbers) == 1 else 'lines'} {shown}{more}" if numbers else file
            lines.append(f"    {where}: {items[0].message}")
        else:
            for item in items[:SHOWN_PER_CODE]:
                where = f"{file}:{item.line}" if item.line is not None else file
                lines.append(f"    {where}  {item.message}")
            if len(items) > SHOWN_PER_CODE:
                lines.append(f"    ... and {len(items) - SHOWN_PER_CODE:,} more (--json lists them all)")
        hints = {item.hint for item in items}
        lines += [f"    hint: {hint}" for hint in sorted(hints)[:3]]
    return lines


def check_summary(file: str, format: str, examples: int, errors: int, warnings: int, tokens: int | None, encoding: str) -> str:
    counted = f", {tokens:,} tokens ({encoding})" if tokens is not None else ""
    verdict = "cannot be used until the errors are fixed" if errors else "ready" if not warnings else "usable; look at the warnings"
    return f"{file}: {format}, {examples:,} usable examples, {errors:,} errors, {warnings:,} warnings{counted}: {verdict}."


def stats_text(result: DatasetStats, splits: dict[str, int]) -> list[str]:
    lines = [
        f"{result.examples:,} examples ({result.with_system:,} with a system prompt, {result.multi_turn:,} multi-turn); task looks like {result.task_type}",
    ]
    if splits:
        lines.append("split: " + ", ".join(f"{name} {count:,}" for name, count in splits.items()))
    lines.append(f"tokens ({result.encoding}): {result.total_tokens:,} in all")
    lines.append(f"  {'':<10} {'min':>7} {'p5':>7} {'median':>7} {'mean':>7} {'p95':>7} {'max':>7}")
    rows: list[tuple[str, Distribution]] = [("example", result.tokens), *result.by_role.items()]
    for name, dist in rows:
        lines.append(
            f"  {name:<10} {dist.min:>7,} {dist.p5:>7,.0f} {dist.median:>7,.0f} {dist.mean:>7,.0f} {dist.p95:>7,.0f} {dist.max:>7,}"
        )
    lines += [result.guidance.message, RETRIEVAL_NOTE]
    return lines
