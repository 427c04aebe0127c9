"""What an evaluation report shows, gathered from disk.

A report is built from files only (the run folder, its `eval/result.json`, the data splits and
`reports/cost.json`), so it can be written again at any time, by any process, without a model.
The two renderings, `markdown` and `html`, read only what is gathered here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from tuneui.core.backend import ModelRef
from backends.run_events import summarize_metrics
from backends.runs import RunFolder
from tuneui.core.evalset import read_saved
from tuneui.steps.cost import cost_report_path
from tuneui.core.review_stats import HumanResult
from tuneui.steps.eval_files import RESULT_FILE
from tuneui.steps.leaderboard import Board
from tuneui.steps.review import current_verdict, human_for_run
from tuneui.core.metrics import METRIC_TITLES
from tuneui.core.rules import pass_rate
from tuneui.core.workspace import Workspace
from tuneui.errors import UsageError

FINDINGS_SHOWN = 5  # per split; `tuneui data check` lists them all
# What the renderings read from eval/result.json (EvalResult.to_dict writes them all).
RESULT_KEYS = frozenset(
    {"verdict", "examples", "metrics", "judge", "task_type", "primary_metric", "baseline_model", "baseline_variant",
     "variants", "difference", "difference_ci95"}
)


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
    data_checks: tuple[DataCheck, ...]
    cost: str | None  # the Cost step's estimate for the run's backend, in words
    human: HumanResult | None = None  # people's blind review, as the votes stand now
    leaderboard: Board | None = None  # every baseline variant and run of the current split; None when none can be read


@dataclass(frozen=True)
class DataCheck:
    """`tuneui data check` of one split, as the report shows it."""

    file: str
    examples: int
    errors: tuple[Mapping[str, Any], ...]
    warnings: tuple[Mapping[str, Any], ...]


def gather(workspace: Workspace, run_id: str) -> ReportInputs:
    settings = workspace.settings()  # outside a project, say so before looking for the run
    run = RunFolder.open(workspace.runs_dir, run_id)
    result = read_saved(run.eval_dir / RESULT_FILE)
    if not result:
        raise UsageError(
            f"Run {run_id} has not been evaluated yet", f"Run `tuneui eval {run_id}` first, then `tuneui report {run_id}`."
        )
    missing = sorted(RESULT_KEYS - set(result))
    wrong = _wrongly_typed(result)
    if missing or wrong:
        raise UsageError(
            f"{run.eval_dir / RESULT_FILE} " + (f"lacks {', '.join(missing)}" if missing else f"has a bad '{wrong}' field"),
            f"It was edited or written by another version; run `tuneui eval {run_id}` again.",
        )
    events = run.read_events()
    losses = tuple(
        LossPoint(int(e.data["step"]), _number(e.data.get("train_loss")), _number(e.data.get("valid_loss")))
        for e in events
        if e.type == "metrics" and isinstance(e.data.get("step"), int)
    )
    spec = read_saved(run.spec_path) or {}
    status = run.read_status()
    human = human_for_run(workspace, run_id)
    result = {**result, "verdict": current_verdict(result, human)}  # votes given since the evaluation count
    return ReportInputs(
        project=settings.project.name,
        run_id=run_id,
        spec=spec,
        status=status,
        result=result,
        training=summarize_metrics(events),
        losses=losses,
        links=_links(workspace, run),
        tuned_model=_tuned_label(workspace, run.model_ref()),
        data_checks=_data_checks(workspace),
        cost=_cost(workspace, str(spec.get("backend", ""))),
        human=human,
        leaderboard=_leaderboard(workspace),
    )


def _leaderboard(workspace: Workspace) -> Board | None:
    """The project's leaderboard, or None when the split cannot be read: a report stays writable."""
    from tuneui.errors import TuneError
    from tuneui.steps.leaderboard_files import project_board

    try:
        board = project_board(workspace)
    except TuneError:
        return None
    return board if board.rows else None


def _wrongly_typed(result: Mapping[str, Any]) -> str | None:
    """The first field of result.json whose type the renderings cannot use (a person edited it)."""
    number = (int, float)
    expected: dict[str, tuple[type, ...]] = {
        "verdict": (str,), "examples": (int,), "metrics": (dict,), "judge": (dict, type(None)),
        "task_type": (str,), "primary_metric": (str,), "baseline_model": (str,), "baseline_variant": (str,),
        "variants": (dict,), "difference": number, "difference_ci95": (list,), "differing": (list,),
        "forgetting": (dict, type(None)), "judge_detail": (dict, type(None)),
        "rules": (dict, type(None)), "rules_detail": (dict, type(None)),
    }  # fmt: skip
    for key, types in expected.items():
        if key in result and not isinstance(result[key], types):
            return key
    if not isinstance(result["metrics"].get("tuned"), dict):
        return "metrics.tuned"
    if not all(isinstance(v, dict) for v in result["variants"].values()):
        return "variants"
    interval = result["difference_ci95"]
    if len(interval) != 2 or not all(isinstance(x, number) for x in interval):
        return "difference_ci95"
    return None


def _data_checks(workspace: Workspace) -> tuple[DataCheck, ...]:
    """The checks of both splits, each against the other (so leakage shows), counted offline."""
    from tuneui.core.dataset import check
    from tuneui.errors import TuneError

    checks = []
    pairs = ((workspace.train_file, workspace.val_file), (workspace.val_file, workspace.train_file))
    for file, partner in pairs:
        if not file.is_file():
            continue
        try:
            found = check(file, partner=partner if partner.is_file() else None)
        except TuneError as exc:
            checks.append(DataCheck(file.name, 0, ({"line": None, "code": "unreadable", "message": exc.title},), ()))
            continue
        errors = tuple(f.to_json() for f in found.errors)
        warnings = tuple(f.to_json() for f in found.warnings)
        checks.append(DataCheck(file.name, found.examples, errors, warnings))
    return tuple(checks)


def _cost(workspace: Workspace, backend: str) -> str | None:
    """The estimate the Cost step saved in reports/cost.json for this backend, if any."""
    saved = read_saved(cost_report_path(workspace)) or {}
    rows = saved.get("rows")
    # cost.json is a convenience the Cost step left behind: an edited one is ignored, not fatal.
    rows = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    row = next((r for r in rows if r.get("backend") == backend and not r.get("error")), None)
    if not row:
        return None
    parts = []
    if isinstance(row.get("cost_usd"), (int, float)):
        parts.append(f"${row['cost_usd']:.2f}")
    if isinstance(row.get("hours"), (int, float)):
        parts.append(f"{row['hours']:.2f} h")
    if isinstance(row.get("billed_tokens"), int):
        parts.append(f"{row['billed_tokens']:,} billed tokens")
    return ", ".join(parts) or None


def _tuned_label(workspace: Workspace, model_ref: ModelRef | None) -> str:
    if model_ref is None:
        return "?"
    if model_ref.model_id:
        return str(model_ref.model_id)
    path = model_ref.path
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
        ("hosted model", run.model_json),
        ("baseline answers", workspace.baseline_dir),
        ("cost estimates", cost_report_path(workspace)),
        ("train split", workspace.train_file),
        ("validation split", workspace.val_file),
    ]
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
        cells = [fmt(v.get(metric)) for v in variants.values()]
        rows.append([title] + cells + [fmt(result["metrics"]["tuned"][metric])])
    return header, rows


def rule_rows(result: Mapping[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    """Header and rows of the task-rules table (answers passing, per baseline variant and tuned),
    or None when the project had no rules or result.json no longer holds them whole."""
    rules, detail = result.get("rules"), result.get("rules_detail")
    if not isinstance(rules, dict) or not isinstance(detail, dict):
        return None
    columns = {**(detail.get("variants") or {}), "tuned": rules.get("tuned")}
    checks = detail.get("checks") or {}
    if not all(_is_rule_summary(summary, checks) for summary in columns.values()):
        return None
    best = result.get("baseline_variant")
    header = ["rule", "check"] + [f"{name} (baseline to beat)" if name == best else name for name in columns]
    rows = [["every rule", "an answer passes all of them"] + [pass_rate(summary) for summary in columns.values()]]
    for name, words in checks.items():
        rows.append([name, str(words)] + [pass_rate({"passed": s["by_rule"][name], "total": s["total"]}) for s in columns.values()])
    return header, rows


def _is_rule_summary(summary: Any, checks: Mapping[str, Any]) -> bool:
    return (
        isinstance(summary, dict)
        and isinstance(summary.get("passed"), int)
        and isinstance(summary.get("total"), int)
        and isinstance(summary.get("by_rule"), dict)
        and all(isinstance(summary["by_rule"].get(name), int) for name in checks)
    )


def rules_broken(row: Mapping[str, Any]) -> str | None:
    """`"baseline: sign-off, brief; tuned: none"` for a differing example, or None without rules."""
    failed = row.get("rules_failed")
    if not isinstance(failed, dict) or not all(isinstance(failed.get(side), list) for side in ("baseline", "tuned")):
        return None
    return "; ".join(f"{side}: {', '.join(map(str, failed[side])) or 'none'}" for side in ("baseline", "tuned"))


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
    ] + ([("estimated training cost", inputs.cost)] if inputs.cost else [])


def fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
