"""The end of the path: what a verdict without a judge cannot see, and the judge a user can run now."""

from __future__ import annotations

from typing import Any

from tuneui.guide.questions import HOSTED, key_present
from tuneui.guide.step_table import EVALUATE

REPORT_COMMAND = "/report"


def judge_offer() -> str:
    """A judge the user can run now: a hosted model whose key is present ("" for none)."""
    return next((f"{backend}:{model}" for backend, (variable, model, _) in HOSTED.items() if backend != "azure" and key_present(variable)), "")


def verdict_notes(data: Any) -> list[str]:
    """What the verdict cannot see when no judge ran, and where the report is."""
    notes = []
    if not data.get("judge"):
        notes.append(
            "No judge ran: ROUGE-L counts shared words with the reference, so a fluent answer with a wrong "
            "fact, price or date can score well. Read the differing answers in the Evaluate view, ask people "
            "to review the report, or add a judge: "
            f"{EVALUATE.command} --judge openai:gpt-4o-mini (any backend:model)."
        )
    notes.append(f"{REPORT_COMMAND} writes the report (Markdown and HTML) to share.")
    return notes
