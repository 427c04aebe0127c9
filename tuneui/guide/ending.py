"""The end of the path: what a verdict without a judge cannot see, and the judge a user can run now."""

from __future__ import annotations

from typing import Any

from tuneui.guide.questions import judge_candidates
from tuneui.steps.step_table import EVALUATE
from tuneui.guide.turns import REPORT_COMMAND


def judge_offer() -> str:
    """A judge the user can run now: a hosted model whose key is present ("" for none)."""
    return next(iter(judge_candidates()), "")


def verdict_notes(data: Any) -> list[str]:
    """What the verdict cannot see when no judge ran, and where the report is."""
    notes = []
    if not data.get("judge"):
        notes.append(
            "No judge ran: ROUGE-L counts shared words with the reference, so a fluent answer with a wrong "
            "fact, price or date can score well. Read the differing answers in the Evaluate view, ask people "
            "to review the report, or add a judge: "
            f"{EVALUATE.command} --judge BACKEND:MODEL (any hosted model whose key is set)."
        )
    notes.append(f"{REPORT_COMMAND} writes the report (Markdown and HTML) to share.")
    return notes
