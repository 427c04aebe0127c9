"""The Markdown rendering of an evaluation report (`reports/<run-id>.md`).

Every text from a user, a file or a provider (the project's name, model names, answers, findings,
paths) is data: `_md` makes it literal, so a `<script>` in a project name or a
`[x](javascript:...)` in an answer is shown as written by any Markdown viewer, HTML on or off.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence
from urllib.parse import quote

from tuneui.core.metrics import METRIC_TITLES
from tuneui.core.visible import visible
from tuneui.steps.report.people import people_markdown
from tuneui.steps.report.inputs import FINDINGS_SHOWN, DataCheck, ReportInputs, facts, fmt, metric_rows, rule_rows, rules_broken


def render_markdown(inputs: ReportInputs) -> str:
    result = inputs.result
    out = [f"# {_md(inputs.project)}: run {_md(inputs.run_id)}", "", f"**Verdict:** {_md(result['verdict'])}", ""]
    out += _facts_markdown(inputs)
    header, rows = metric_rows(result)
    out += ["## Metrics on the validation split", "", _md_table(header, rows), ""]
    out.append(
        f"Paired difference in {METRIC_TITLES.get(result['primary_metric'], result['primary_metric'])} "
        f"(tuned - baseline): {result['difference']:+.3f}, 95 % interval "
        f"[{result['difference_ci95'][0]:+.3f}, {result['difference_ci95'][1]:+.3f}]."
    )
    out.append("")
    out += _rules_markdown(result)
    judge = result.get("judge")
    if judge:
        unparsed = (result.get("judge_detail") or {}).get("unparsed", 0)
        out += [
            "## LLM judge (both orders)",
            "",
            _md_table(
                ["judge", "wins", "ties", "losses", "win rate", "95 % interval", "unreadable replies"],
                [[judge["model"], str(judge["wins"]), str(judge["ties"]), str(judge["losses"]),
                  f"{judge['win_rate']:.2f}", f"[{judge['ci95'][0]:.2f}, {judge['ci95'][1]:.2f}]", str(unparsed)]],
            ),
            "",
        ]
    out += people_markdown(inputs, _md_table)
    out += _leaderboard_markdown(inputs)
    out += _training_markdown(inputs)
    out += _checks_markdown(inputs.data_checks)
    out += _differing_markdown(result.get("differing", []))
    out += _forgetting_markdown(result.get("forgetting"))
    out += ["## Files", ""] + [f"- [{_md(label)}]({_href(href)})" for label, href in inputs.links] + [""]
    return "\n".join(out)


def _leaderboard_markdown(inputs: ReportInputs) -> list[str]:
    from tuneui.steps.leaderboard import CELL_HEADER, cells

    board = inputs.leaderboard
    if board is None:
        return []
    note = "Runs on another split scored other examples: listed, never ranked." if any(r["split"] != "current" for r in board.rows) else ""
    return [
        "## Comparing base models", "",
        f"Primary metric: {_md(METRIC_TITLES.get(board.metric, board.metric))}, each against the best baseline on the same examples.", "",
        _md_table(CELL_HEADER, cells(board)), "", _md(board.advice), "",
    ] + ([_md(note), ""] if note else [])  # fmt: skip


def _facts_markdown(inputs: ReportInputs) -> list[str]:
    return [f"- **{_md(label)}:** {_md(value)}" for label, value in facts(inputs)] + [""]


def _rules_markdown(result: Mapping[str, Any]) -> list[str]:
    table = rule_rows(result)
    if table is None:
        return []
    return ["## Task rules on the validation split", "", "Answers that pass each rule of tuneui.toml [rules].", "", _md_table(*table), ""]


def _training_markdown(inputs: ReportInputs) -> list[str]:
    t = inputs.training
    return [
        "## Training",
        "",
        f"{t['steps']} steps; train loss {fmt(t['first_train_loss'])} -> {fmt(t['last_train_loss'])}; "
        f"best validation loss {fmt(t['best_valid_loss'])} at step {t['best_step'] if t['best_step'] is not None else '-'}. "
        "The HTML report draws the curves.",
        "",
    ]


def _differing_markdown(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    if not rows:
        return ["## Where they differ most", "", "The two models gave the same answers.", ""]
    out = ["## Where they differ most", ""]
    for row in rows:
        where = f"line {row['line']}" if row.get("line") else "example"
        judge = f", judge: {row['judge']}" if row.get("judge") else ""
        out += [
            f"### val.jsonl {_md(where)} (gap {row['gap']:+.2f}{_md(judge)})",
            "",
            _md_table(["", "text"], [["request", row["request"]], ["reference", row["reference"]],
                                     ["baseline", row["baseline"]], ["tuned", row["tuned"]]]
                      + ([["rules broken", rules_broken(row)]] if rules_broken(row) else [])),
            "",
        ]
    return out


def _forgetting_markdown(check: Mapping[str, Any] | None) -> list[str]:
    if not check:
        return []
    out = [
        "## Forgetting check (general prompts)",
        "",
        f"Known answers named: base {check['base_correct']}/{check['checked']}, "
        f"tuned {check['tuned_correct']}/{check['checked']}.",
        "",
    ]
    rows = [[i["prompt"], i["base"] + _mark(i["base_ok"]), i["tuned"] + _mark(i["tuned_ok"])] for i in check["items"]]
    return out + [_md_table(["prompt", "base", "tuned"], rows), ""]


def _checks_markdown(checks: Sequence[DataCheck]) -> list[str]:
    if not checks:
        return []
    out = ["## Data checks", ""]
    for item in checks:
        out.append(f"- **{_md(item.file)}**: {item.examples} examples, {len(item.errors)} errors, {len(item.warnings)} warnings")
        for finding in (item.errors + item.warnings)[:FINDINGS_SHOWN]:
            where = f"line {finding['line']}" if finding.get("line") else "file"
            out.append(f"  - {_md(where)}: {_md(finding['code'])}: {_md(finding['message'])}")
    return out + ["", "`tuneui data check FILE` shows every finding with its fix.", ""]


def _mark(ok: bool | None) -> str:
    return "" if ok is None else (" (ok)" if ok else " (missed)")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(text: str) -> str:
        return _md(text) or " "

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# What starts Markdown syntax inside a line: emphasis, code, links and images ([ and ]), strikethrough,
# table cells; an `_` between letters or digits starts nothing (too_long stays readable).
_MARKDOWN_PUNCTUATION = re.compile(r"[\\`*\[\]~|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def _md(text: Any) -> str:
    """`text` as literal Markdown on one line: no raw HTML, entity, link, emphasis, line break or
    control character."""
    # A line break could start a heading, a list or an HTML block; an ESC would reach the terminal of
    # whoever `cat`s the report, as the CLI's prints never let it.
    flat = visible(" ".join(str(text).split()), keep="")
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_PUNCTUATION.sub(lambda found: "\\" + found.group(), flat)


def _href(path: str) -> str:
    """A relative link target made of safe characters: a run id or file name cannot end the link."""
    return quote(path, safe="/.-_~")
