"""Cards: the tables, findings and small charts the guide shows inline, as plain data.

Built from the JSON the step commands print; the widgets only draw them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

from tuneui.guide_state import WorkspaceState

CardKind = Literal["table", "findings", "chart", "text"]
MAX_ROWS = 12


@dataclass(frozen=True)
class Card:
    title: str
    kind: CardKind
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    values: tuple[float, ...] = ()
    more: int = 0  # rows left out so a card stays small; the full view shows them all


def card_for(kind: str, data: Mapping[str, Any]) -> Card:
    builders = {
        "check": findings_card,
        "split": split_card,
        "baseline": baseline_card,
        "cost": cost_card,
        "eval": eval_card,
    }
    return builders.get(kind, _key_values_card)(data)


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
        return _key_values_card(data, title="Baseline")
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
    rows = []
    for variant in variants:
        metrics = dict(variant.get("metrics") or {})
        rows.append((str(variant.get("name") or "?"), *(_number(metrics.get(name)) for name in metric_names)))
    best = data.get("best")
    title = f"Baseline to beat: {best}" if best else "Baseline"
    return _limited(title, "table", ("prompt", *metric_names), rows)


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
    return _limited(str(data.get("verdict") or "Evaluation"), "table", ("metric", "baseline", "tuned"), rows)


def loss_chart(train_losses: list[float]) -> Card:
    return Card(title="training loss", kind="chart", values=tuple(train_losses))


def status_card(state: WorkspaceState) -> Card:
    rows = [(name, value) for name, value in state.step_states().items()]
    for run in state.runs[-3:]:
        total = f"/{run.total_steps}" if run.total_steps else ""
        rows.append((f"run {run.run_id}", f"{run.status}, step {run.steps}{total}"))
    return Card(title="Status", kind="table", columns=("step", "state"), rows=tuple(rows))


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


def _key_values_card(data: Mapping[str, Any], title: str = "Result") -> Card:
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


def _line(finding: Mapping[str, Any]) -> str:
    line = finding.get("line")
    return "—" if line is None else str(line)


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
