"""Evaluation reports: `reports/<run-id>.md` and a self-contained `reports/<run-id>.html`.

Both are built from files only (the run folder and its `eval/result.json`), so a report can be
written again at any time, by any process, without running a model.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from backends.runs import RunFolder, summarize_metrics
from tuneui.core.evaluate import RESULT_FILE
from tuneui.core.files import atomic_write_text, read_json
from tuneui.core.metrics import METRIC_TITLES
from tuneui.core.workspace import Workspace
from tuneui.errors import UsageError


@dataclass(frozen=True)
class LossPoint:
    step: int
    train: float | None
    valid: float | None


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report shows, gathered from disk."""

    project: str
    run_id: str
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    result: Mapping[str, Any]
    training: Mapping[str, Any]  # summarize_metrics of the run's events
    losses: tuple[LossPoint, ...]
    links: tuple[tuple[str, str], ...]  # (label, path relative to reports/)
    tuned_model: str  # the hosted model id, or the adapter folder relative to the project


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path


def write_report(workspace: Workspace, run_id: str) -> ReportFiles:
    """Write both report files for an evaluated run and return their paths."""
    from tuneui.core.report_html import render_html

    inputs = gather(workspace, run_id)
    markdown = workspace.reports_dir / f"{run_id}.md"
    html = workspace.reports_dir / f"{run_id}.html"
    atomic_write_text(markdown, render_markdown(inputs))
    atomic_write_text(html, render_html(inputs))
    return ReportFiles(markdown, html)


def gather(workspace: Workspace, run_id: str) -> ReportInputs:
    run = RunFolder.open(workspace.runs_dir, run_id)
    result = read_json(run.eval_dir / RESULT_FILE)
    if not result:
        raise UsageError(
            f"Run {run_id} has not been evaluated yet", f"Run `tuneui eval {run_id}` first, then `tuneui report {run_id}`."
        )
    events = run.read_events()
    losses = tuple(
        LossPoint(int(e.data["step"]), _number(e.data.get("train_loss")), _number(e.data.get("valid_loss")))
        for e in events
        if e.type == "metrics" and isinstance(e.data.get("step"), int)
    )
    return ReportInputs(
        project=workspace.settings().project.name,
        run_id=run_id,
        spec=read_json(run.spec_path, {}) or {},
        status=run.read_status(),
        result=result,
        training=summarize_metrics(events),
        losses=losses,
        links=_links(workspace, run),
        tuned_model=_tuned_label(workspace, run.read_status().get("model_ref") or {}),
    )


def _tuned_label(workspace: Workspace, model_ref: Mapping[str, Any]) -> str:
    if model_ref.get("model_id"):
        return str(model_ref["model_id"])
    path = model_ref.get("path")
    if not path:
        return "?"
    try:
        return Path(path).resolve().relative_to(workspace.root).as_posix()
    except ValueError:
        return str(path)


def _links(workspace: Workspace, run: RunFolder) -> tuple[tuple[str, str], ...]:
    """Relative links from reports/ to what the report rests on, only to files that exist."""
    candidates = [
        ("run folder", run.path),
        ("run spec", run.spec_path),
        ("training events", run.events_path),
        ("evaluation result", run.eval_dir / RESULT_FILE),
        ("tuned answers", run.eval_dir / "predictions.json"),
        ("cost estimate", run.path / "estimate.json"),
        ("hosted model", run.model_json),
        ("baseline answers", workspace.baseline_dir),
        ("train split", workspace.train_file),
        ("validation split", workspace.val_file),
    ]
    candidates += [("data checks", p) for p in sorted(workspace.data_dir.glob("check*.json"))]
    return tuple(
        (label, Path(os.path.relpath(path, workspace.reports_dir)).as_posix())
        for label, path in candidates
        if path.exists()
    )


def metric_rows(result: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the metrics table: one column per baseline variant, then tuned."""
    variants: Mapping[str, Mapping[str, float]] = result.get("variants", {})
    best = result.get("baseline_variant")
    header = ["metric"] + [f"{name} (baseline to beat)" if name == best else name for name in variants] + ["tuned"]
    rows = []
    for metric, title in METRIC_TITLES.items():
        if metric not in result["metrics"]["tuned"]:
            continue
        cells = [_fmt(v.get(metric)) for v in variants.values()]
        rows.append([title] + cells + [_fmt(result["metrics"]["tuned"][metric])])
    return header, rows


def render_markdown(inputs: ReportInputs) -> str:
    result = inputs.result
    out = [f"# {inputs.project}: run {inputs.run_id}", "", f"**Verdict:** {result['verdict']}", ""]
    out += _facts_markdown(inputs)
    header, rows = metric_rows(result)
    out += ["## Metrics on the validation split", "", _md_table(header, rows), ""]
    out.append(
        f"Paired difference in {METRIC_TITLES.get(result['primary_metric'], result['primary_metric'])} "
        f"(tuned - baseline): {result['difference']:+.3f}, 95 % interval "
        f"[{result['difference_ci95'][0]:+.3f}, {result['difference_ci95'][1]:+.3f}]."
    )
    out.append("")
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
    out += _training_markdown(inputs)
    out += _differing_markdown(result.get("differing", []))
    out += _forgetting_markdown(result.get("forgetting"))
    out += ["## Files", ""] + [f"- [{label}]({href})" for label, href in inputs.links] + [""]
    return "\n".join(out)


def facts(inputs: ReportInputs) -> list[tuple[str, str]]:
    result, spec = inputs.result, inputs.spec
    return [
        ("backend", str(spec.get("backend", "?"))),
        ("base model", str(spec.get("model", "?"))),
        ("tuned model", inputs.tuned_model),
        ("baseline to beat", f"{result.get('baseline_variant')} prompt on {result.get('baseline_model')}"),
        ("held-out examples", str(result.get("examples"))),
        ("task type", str(result.get("task_type"))),
        ("primary metric", METRIC_TITLES.get(result.get("primary_metric", ""), str(result.get("primary_metric")))),
    ]


def _facts_markdown(inputs: ReportInputs) -> list[str]:
    return [f"- **{label}:** {value}" for label, value in facts(inputs)] + [""]


def _training_markdown(inputs: ReportInputs) -> list[str]:
    t = inputs.training
    return [
        "## Training",
        "",
        f"{t['steps']} steps; train loss {_fmt(t['first_train_loss'])} -> {_fmt(t['last_train_loss'])}; "
        f"best validation loss {_fmt(t['best_valid_loss'])} at step {t['best_step'] if t['best_step'] is not None else '-'}. "
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
            f"### val.jsonl {where} (gap {row['gap']:+.2f}{judge})",
            "",
            _md_table(["", "text"], [["request", row["request"]], ["reference", row["reference"]],
                                     ["baseline", row["baseline"]], ["tuned", row["tuned"]]]),
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


def _mark(ok: bool | None) -> str:
    return "" if ok is None else (" (ok)" if ok else " (missed)")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(text: str) -> str:
        return " ".join(str(text).split()).replace("|", "\\|") or " "

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
