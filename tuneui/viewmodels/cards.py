"""Cards: the tables and findings the guide shows inline, as plain data.

Built from the JSON the step commands print; the widgets only draw them. Which card a result gets
is the guide's choice (`tuneui.guide.cards`): view models never import the guide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

from tuneui.core.rules import pass_rate
from tuneui.steps.step_table import BASELINE

CardKind = Literal["table", "findings"]
MAX_ROWS = 12


@dataclass(frozen=True)
class Card:
    title: str
    kind: CardKind
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    more: int = 0  # rows left out so a card stays small; the full view shows them all


def findings_card(data: Mapping[str, Any]) -> Card:
    """`tuneui data check --json`: every finding with its line, errors first."""
    errors = list(data.get("errors") or [])
    warnings = list(data.get("warnings") or [])
    rows = [(_line(f), "error", str(f.get("code", "")), str(f.get("message", ""))) for f in errors]
    rows += [(_line(f), "warning", str(f.get("code", "")), str(f.get("message", ""))) for f in warnings]
    tokens = (data.get("tokens") or {}).get("total")
    title = f"{data.get('examples', 0)} examples · {len(errors)} errors · {len(warnings)} warnings"
    if tokens is not None:
        title += f" · {tokens:,} tokens"
    if not rows:  # a header over no rows reads as something missing
        return Card(title, "findings", ("",), (("No problems found in any example.",),))
    return _limited(title, "findings", ("line", "kind", "code", "message"), rows)


def split_card(data: Mapping[str, Any]) -> Card:
    rows = (("train", str(data.get("train", 0))), ("validation (held out)", str(data.get("val", 0))))
    return Card(title="Split", kind="table", columns=("part", "examples"), rows=rows)


def baseline_card(data: Mapping[str, Any]) -> Card:
    """`tuneui baseline --json`: one row per prompt variant and its metrics."""
    variants = data.get("variants")
    if isinstance(variants, Mapping):
        variants = [{"name": name, "metrics": value} for name, value in variants.items() if isinstance(value, Mapping)]
    if not isinstance(variants, list) or not variants:
        return key_values_card(data, title=BASELINE.name)
    metric_names: list[str] = []
    for variant in variants:
        for name, value in dict(variant.get("metrics") or {}).items():
            if isinstance(value, (int, float)) and name not in metric_names:
                metric_names.append(name)
    primary = data.get("primary_metric")
    if primary in metric_names:
        metric_names.remove(primary)
        metric_names.insert(0, primary)
    metric_names = metric_names[:3]
    rules = _rule_summaries(data.get("rules"))
    rows = []
    for variant in variants:
        metrics = dict(variant.get("metrics") or {})
        name = str(variant.get("name") or "?")
        cells = tuple(_number(metrics.get(metric)) for metric in metric_names)
        rows.append((name, *cells, *((_rate(rules.get(name)),) if rules else ())))
    best = data.get("best")
    title = f"{BASELINE.name} to beat: {best}" if best else BASELINE.name
    return _limited(title, "table", ("prompt", *metric_names, *(("rules passed",) if rules else ())), rows)


def cost_card(data: Mapping[str, Any]) -> Card:
    """The Cost step's comparison: one row per backend, with the price date."""
    rows = []
    for row in data.get("rows") or []:
        if row.get("error"):
            rows.append((str(row.get("backend")), _model_name(row.get("model")), "—", row["error"]))
            continue
        cost = row.get("cost_usd")
        dollars = f"${cost:,.2f}" if isinstance(cost, (int, float)) else "—"
        rows.append((str(row.get("backend")), _model_name(row.get("model")), dollars, _cost_note(row)))
    return _limited("Training cost by backend", "table", ("backend", "model", "cost", "notes"), rows)


def eval_card(data: Mapping[str, Any]) -> Card:
    """`tuneui eval RUN --json`: metrics side by side, the verdict as the title."""
    metrics = data.get("metrics") or {}
    baseline, tuned = dict(metrics.get("baseline") or {}), dict(metrics.get("tuned") or {})
    names = [name for name in baseline if name in tuned] or sorted(set(baseline) | set(tuned))
    rows = [(name, _number(baseline.get(name)), _number(tuned.get(name))) for name in names]
    judge = data.get("judge")
    if isinstance(judge, Mapping):
        lo, hi = (judge.get("ci95") or [None, None])[:2]
        rows.append(("judge win rate", "", f"{_number(judge.get('win_rate'))} [{_number(lo)}, {_number(hi)}]"))
    human = data.get("human")
    if isinstance(human, Mapping) and isinstance(human.get("ci95"), list):
        rows.append(("people's win rate", "", f"{_people(human)}"))
    rules = _rule_summaries(data.get("rules"))
    if "baseline" in rules and "tuned" in rules:
        baseline_rules, tuned_rules = rules["baseline"], rules["tuned"]
        rows.append(("rules passed (all)", _rate(baseline_rules), _rate(tuned_rules)))
        for name in tuned_rules["by_rule"]:
            rows.append((f"rule {name}", _rate(baseline_rules, name), _rate(tuned_rules, name)))
    return _limited(str(data.get("verdict") or "Evaluation"), "table", ("metric", "baseline", "tuned"), rows)


def leaderboard_card(rows: Any, advice: str = "") -> Card:
    """`tuneui runs --compare --json`: the candidates side by side, the advice as the title.

    Only the current split's rows are ranked; a run on another split keeps its row, marked."""
    cells = []
    for row in rows if isinstance(rows, list) else ():
        if not isinstance(row, Mapping):
            continue
        interval = row.get("ci95")
        against = (
            f"{row['vs_best_baseline']:+.3f} [{interval[0]:+.3f}, {interval[1]:+.3f}]"
            if isinstance(row.get("vs_best_baseline"), (int, float)) and isinstance(interval, list) and len(interval) == 2
            else "—"
        )
        split = "" if row.get("split") == "current" else " (other split)"
        cells.append((
            str(row.get("rank") or "—"), _candidate_name(str(row.get("model") or "")),
            str(row.get("variant") or row.get("run") or "?") + split, _number(row.get("value")), against,
            _share(row.get("rule_pass_rate")), _share(row.get("stopped_on_their_own_rate")),
        ))  # fmt: skip
    return _limited(advice or "Base models side by side", "table", ("#", "model", "variant or run", "score", "vs best baseline", "rules", "stopped"), cells)


def read_leaderboard(workspace: Any) -> dict[str, Any] | None:
    """reports/leaderboard.json as the leaderboard last left it, or None when absent or damaged."""
    from tuneui.core.files import read_json
    from tuneui.steps.leaderboard import BOARD_FILE

    try:
        saved = read_json(workspace.reports_dir / BOARD_FILE)
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) and isinstance(saved.get("rows"), list) else None


def compare_sentence(workspace: Any) -> str:
    """The guide's sentence on which base model to carry on with, once two models have scores on
    the current split (reports/leaderboard.json); empty before that."""
    saved = read_leaderboard(workspace)
    if saved is None or len(ranked_models(saved["rows"])) < 2:
        return ""
    return str(saved.get("advice") or "")


def ranked_models(rows: Any) -> set[str]:
    """The models with a ranked row: those scored on the current split."""
    return {str(row.get("model")) for row in rows if isinstance(row, Mapping) and row.get("rank")}


def _candidate_name(label: str) -> str:
    # "local:~/.cache/tuneui/models/SmolLM2-135M-Instruct": the folder's last part names it well enough.
    backend, _, model = label.partition(":")
    if model.startswith(("/", "./", "~/")):
        return f"{backend}:{model.rstrip('/').rsplit('/', 1)[-1]}"
    return label


def _share(value: Any) -> str:
    return f"{100 * value:.0f} %" if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


def review_card(human: Mapping[str, Any], examples: int, reviewed: int) -> Card:
    """People's blind review so far: the `human` object of `tuneui eval --json`, in rows."""
    from tuneui.core.review_stats import summary_lines
    from tuneui.core.verdict import people_needed

    needed = people_needed(examples)
    rows = [("", line) for line in summary_lines(human)]
    title = f"People's blind review: {human.get('votes')} votes"
    if reviewed >= needed:
        rows.append(("", f"{reviewed} of {examples} held-out examples have votes: people's result leads the verdict"))
    else:
        rows.append(("", f"{reviewed} of {examples} held-out examples have votes: {needed - reviewed} more before people's result leads the verdict"))
    return _limited(title, "table", ("", ""), rows)


def _people(human: Mapping[str, Any]) -> str:
    lo, hi = human["ci95"][:2]
    return f"{_number(human.get('win_rate'))} [{_number(lo)}, {_number(hi)}], {human.get('votes')} votes"


def rules_sentence(kind: str, data: Mapping[str, Any]) -> str:
    """The guide's sentence on the task rules after `baseline` or `eval`; empty without rules."""
    rules = _rule_summaries(data.get("rules"))
    if kind == "eval" and "baseline" in rules and "tuned" in rules:
        return f"Task rules: the tuned model's answers pass them all {_rate(rules['tuned'])}, the best prompt's {_rate(rules['baseline'])}."
    best = str(data.get("best") or "")
    if kind == "baseline" and best in rules:
        return f"Task rules: the {best} prompt's answers pass them all {_rate(rules[best])}."
    return ""


def one_line(text: str, width: int) -> str:
    """`text` flattened to one line of at most `width` characters, for table cells."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _cost_note(row: Mapping[str, Any]) -> str:
    notes = []
    if isinstance(row.get("billed_tokens"), int):
        notes.append(f"{row['billed_tokens']:,} tokens over {row.get('epochs')} epochs")
    memory = row.get("memory_gib")
    if isinstance(memory, dict) and isinstance(memory.get("total"), (int, float)):
        notes.append(f"{memory['total']:.1f} GiB {row.get('method', '')}".strip())
    if row.get("price_as_of"):
        notes.append(f"prices as of {row['price_as_of']}")
    if row.get("fits") is True:
        notes.append("fits in GPU memory" if row.get("gpu") else "fits in free RAM")
    elif row.get("fits") is False:
        notes.append("does not fit")
    if isinstance(row.get("hours"), (int, float)):
        notes.append(f"{row['hours']:.2f} h")
    warnings = row.get("warnings") or row.get("advice") or []
    if warnings:
        notes.append(str(warnings[0]))
    return "; ".join(notes)


def _model_name(model: Any) -> str:
    # A local model is often a long absolute folder; its last part names it well enough.
    text = str(model or "")
    return text.rstrip("/").rsplit("/", 1)[-1] if text.startswith("/") else text


def key_values_card(data: Mapping[str, Any], title: str = "Result") -> Card:
    rows = [(key, _number(value)) for key, value in _flatten(data)]
    return _limited(title, "table", ("", ""), rows)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.extend(_flatten(value, name + "."))
        elif not isinstance(value, list):
            out.append((name, value))
    return out


def _limited(title: str, kind: CardKind, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> Card:
    return Card(title=title, kind=kind, columns=columns, rows=tuple(rows[:MAX_ROWS]), more=max(0, len(rows) - MAX_ROWS))


def _rule_summaries(rules: Any) -> dict[str, Mapping[str, Any]]:
    """The well-formed `{"passed", "total", "by_rule"}` objects of a step's "rules", by column name."""
    if not isinstance(rules, Mapping):
        return {}
    return {
        str(name): summary
        for name, summary in rules.items()
        if isinstance(summary, Mapping) and isinstance(summary.get("total"), int) and isinstance(summary.get("by_rule"), Mapping)
    }


def _rate(summary: Mapping[str, Any] | None, rule: str | None = None) -> str:
    if summary is None:
        return "—"
    passed = summary.get("passed") if rule is None else summary["by_rule"].get(rule)
    return pass_rate({"passed": passed, "total": summary["total"]}) if isinstance(passed, int) else "—"


def _line(finding: Mapping[str, Any]) -> str:
    line = finding.get("line")
    return "—" if line is None else str(line)


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
