"""The report's section on people's blind review, for both renderings.

Each rendering passes its own table function, which escapes every cell: reviewer names and
requests are people's text, and a report shows them as data, never as markup.
"""

from __future__ import annotations

from html import escape
from typing import Callable, Sequence

from tuneui.core.review_stats import HumanResult
from tuneui.core.verdict import people_needed
from tuneui.steps.report.inputs import ReportInputs

Table = Callable[[Sequence[str], Sequence[Sequence[str]]], str]
DISAGREEMENTS_SHOWN = 10
TITLE = "People's blind review"
OUTCOME_WORDS = {"win": "tuned better", "loss": "baseline better", "tie": "tie"}
METHOD = (
    "Each reviewer saw the baseline's and the tuned answer as A and B, sides and order drawn from a "
    "stored seed; a tie counts half a win; the 95 % interval is the seeded percentile bootstrap the "
    "judge's uses, resampling examples."
)


def people_markdown(inputs: ReportInputs, table: Table) -> list[str]:
    human = inputs.human
    if human is None:
        return []
    out = [f"## {TITLE}", "", _progress(human), "", table(*_numbers(human)), "", METHOD, ""]
    out += [table(["reviewer", "votes"], [[name, str(count)] for name, count in human.reviewers.items()]), ""]
    if human.disagreements:
        out += ["Where people and the judge disagree:", "", table(*_disagreements(human)), ""]
    return out


def people_html(inputs: ReportInputs, table: Callable[[Sequence[str], Sequence[Sequence[str]]], str]) -> str:
    """`table` is the HTML rendering's: it escapes the header, the cells are escaped here."""
    human = inputs.human
    if human is None:
        return ""

    def escaped(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
        return table(header, [[escape(cell) for cell in row] for row in rows])

    parts = [f"<h2>{escape(TITLE)}</h2>", f'<p class="muted">{escape(_progress(human))}</p>', escaped(*_numbers(human))]
    parts.append(f'<p class="muted">{escape(METHOD)}</p>')
    parts.append(escaped(["reviewer", "votes"], [[name, str(count)] for name, count in human.reviewers.items()]))
    if human.disagreements:
        parts += ['<p class="muted">Where people and the judge disagree:</p>', escaped(*_disagreements(human))]
    return "".join(parts)


def _progress(human: HumanResult) -> str:
    needed = people_needed(human.examples)
    if human.examples_reviewed >= needed:
        return f"{human.examples_reviewed} of {human.examples} held-out examples have votes: people's result leads the verdict."
    return (
        f"{human.examples_reviewed} of {human.examples} held-out examples have votes; their result leads the verdict "
        f"from {needed}, {needed - human.examples_reviewed} more to go."
    )


def _numbers(human: HumanResult) -> tuple[list[str], list[list[str]]]:
    header = ["votes", "tuned better", "baseline better", "ties", "win rate", "95 % interval", "position A picked", "agreement with judge"]
    agreement = "-"
    if human.agreement_percent is not None:
        kappa = "undefined" if human.kappa is None else f"{human.kappa:.2f}"
        agreement = f"{human.agreement_percent:.0f} %, kappa {kappa}"
    row = [
        str(human.votes), str(human.tuned_wins), str(human.baseline_wins), str(human.ties), f"{human.win_rate:.2f}",
        f"[{human.ci95[0]:.2f}, {human.ci95[1]:.2f}]",
        "-" if human.position_a_rate is None else f"{human.position_a_rate:.0%}", agreement,
    ]  # fmt: skip
    return header, [row]


def _disagreements(human: HumanResult) -> tuple[list[str], list[list[str]]]:
    rows = [
        [str(d.line or "-"), d.request, d.reviewer, OUTCOME_WORDS[d.people], OUTCOME_WORDS[d.judge]]
        for d in human.disagreements[:DISAGREEMENTS_SHOWN]
    ]
    more = len(human.disagreements) - DISAGREEMENTS_SHOWN
    if more > 0:
        rows.append(["", f"and {more} more", "", "", ""])
    return ["val line", "request", "reviewer", "people", "judge"], rows
