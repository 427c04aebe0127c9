"""The Evaluate view's model: per held-out example, the reference, the baseline's and the tuned
model's answers, the judge's outcome and the task rules each answer broke, assembled from what
`tuneui eval` saved."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from backends.runs import DamagedRunError, RunFolder
from tuneui.core.dataset.loader import read_chat_jsonl
from tuneui.core.files import read_json
from tuneui.core.workspace import Workspace
from tuneui.core.review_stats import HumanResult, summary_lines
from tuneui.errors import TuneError
from tuneui.steps.review import current_verdict, human_for_run
from tuneui.steps.step_table import EVALUATE

OUTCOME_WORDS = {"win": "tuned better", "loss": "baseline better", "tie": "tie"}


@dataclass(frozen=True)
class ComparedExample:
    line: int | None
    request: str
    reference: str
    baseline: str
    tuned: str
    judge: str | None
    judge_reason: str | None = None  # with the tuned answer as A
    # The names of the task rules each answer broke; None when the project had no rules.
    baseline_broke: tuple[str, ...] | None = None
    tuned_broke: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Evaluation:
    run_id: str
    verdict: str
    baseline_variant: str
    metrics: tuple[tuple[str, Any, Any], ...]
    examples: tuple[ComparedExample, ...]
    has_rules: bool = False
    people: tuple[str, ...] = ()  # people's blind review in words; empty when nobody reviewed


def read_evaluation(workspace: Workspace, run_id: str) -> Evaluation | None:
    """None when the run was never evaluated. Every held-out example when the saved answers are
    complete; otherwise the examples the evaluation singled out as differing most."""
    run = RunFolder(workspace.run_dir(run_id))
    path = run.eval_dir / "result.json"
    try:
        result = read_json(path)
        return None if result is None else _evaluation(workspace, run, result)
    except (ValueError, TypeError, AttributeError) as exc:  # not JSON, not UTF-8, or a field of another type
        shown = path.relative_to(workspace.root) if path.is_relative_to(workspace.root) else path
        raise DamagedRunError(
            f"{shown} is damaged, not the evaluation tuneui wrote: {type(exc).__name__}: {exc}",
            f"Type {EVALUATE.command} to evaluate the run again (that rewrites it), or restore the file.",
        ) from None


def _evaluation(workspace: Workspace, run: RunFolder, result: Any) -> Evaluation:
    if not isinstance(result, Mapping):
        raise TypeError(f"a JSON {type(result).__name__}, not an object")
    metrics = result.get("metrics") or {}
    baseline, tuned = dict(metrics.get("baseline") or {}), dict(metrics.get("tuned") or {})
    rows = tuple((name, baseline.get(name), tuned.get(name)) for name in baseline if name in tuned)
    human, people = _people(workspace, run.run_id)
    return Evaluation(
        run_id=run.run_id,
        verdict=current_verdict(result, human),  # votes given since the evaluation count
        baseline_variant=str(result.get("baseline_variant") or "baseline"),
        metrics=rows,
        examples=_every_example(workspace, run, result) or _differing(result),
        has_rules=isinstance(result.get("rules"), Mapping),
        people=people,
    )


def _people(workspace: Workspace, run_id: str) -> tuple[HumanResult | None, tuple[str, ...]]:
    """People's result and its lines; a review file that cannot be read is a line, not a broken view."""
    try:
        human = human_for_run(workspace, run_id)
    except TuneError as exc:
        return None, (f"People's blind review: {exc.title}. {exc.hint}",)
    return human, tuple(summary_lines(human.summary())) if human else ()


def word_diff(old: str, new: str) -> list[tuple[str, bool]]:
    """`new` as (piece, changed) pairs against `old`, word by word: what the view highlights."""
    old_words, new_words = re.findall(r"\S+|\s+", old), re.findall(r"\S+|\s+", new)
    pieces: list[tuple[str, bool]] = []
    for tag, _, _, start, end in difflib.SequenceMatcher(a=old_words, b=new_words, autojunk=False).get_opcodes():
        text = "".join(new_words[start:end])
        if text:
            pieces.append((text, tag != "equal"))
    return pieces


def _every_example(workspace: Workspace, run: RunFolder, result: Mapping[str, Any]) -> tuple[ComparedExample, ...]:
    tuned_saved = read_json(run.eval_dir / "predictions.json") or {}
    tuned = tuned_saved.get("predictions") or []
    baseline_file = _baseline_file(workspace, result, str(tuned_saved.get("val_sha256") or ""))
    baseline_saved = read_json(workspace.baseline_dir / baseline_file) if baseline_file else None
    baseline = (baseline_saved or {}).get("predictions") or []
    try:
        val = read_chat_jsonl(workspace.val_file)
    except TuneError:
        return ()
    if not (len(val) == len(tuned) == len(baseline)) or not val:
        return ()
    detail = result.get("judge_detail") or {}
    outcomes = list(detail.get("outcomes") or [])
    reasons = list(detail.get("reasons") or [])
    failed = (result.get("rules_detail") or {}).get("failed") or {}
    return tuple(
        ComparedExample(
            line=example.line,
            request=example.user_text,
            reference=example.answer or "",
            baseline=str(baseline[index]),
            tuned=str(tuned[index]),
            judge=OUTCOME_WORDS.get(outcomes[index], outcomes[index]) if index < len(outcomes) else None,
            judge_reason=str(reasons[index]) if index < len(reasons) and reasons[index] else None,
            baseline_broke=_broken(failed.get("baseline"), index),
            tuned_broke=_broken(failed.get("tuned"), index),
        )
        for index, example in enumerate(val)
    )


def _baseline_file(workspace: Workspace, result: Mapping[str, Any], fingerprint: str) -> str | None:
    """The baseline answers the evaluation compared against: the file its result names. best.json
    only for results saved before they named it, since a later `tuneui baseline` re-points it."""
    named = result.get("baseline_file")
    if isinstance(named, str) and named:
        return Path(named).name  # a name inside baseline/, never a path out of it
    best = (read_json(workspace.baseline_dir / "best.json", {}) or {}).get(f"{result.get('baseline_model')}@{fingerprint[:12]}")
    return str(best["file"]) if isinstance(best, Mapping) and best.get("file") else None


def _differing(result: Mapping[str, Any]) -> tuple[ComparedExample, ...]:
    return tuple(
        ComparedExample(
            line=row.get("line"),
            request=str(row.get("request") or ""),
            reference=str(row.get("reference") or ""),
            baseline=str(row.get("baseline") or ""),
            tuned=str(row.get("tuned") or ""),
            judge=OUTCOME_WORDS.get(row.get("judge"), row.get("judge")),
            judge_reason=str(row["judge_reason"]) if row.get("judge_reason") else None,
            baseline_broke=_broken([(row.get("rules_failed") or {}).get("baseline")], 0),
            tuned_broke=_broken([(row.get("rules_failed") or {}).get("tuned")], 0),
        )
        for row in result.get("differing") or []
    )


def _broken(per_example: Any, index: int) -> tuple[str, ...] | None:
    """Rule names answer `index` broke, from a saved per-example list; None when nothing usable was saved."""
    if not isinstance(per_example, list) or index >= len(per_example) or not isinstance(per_example[index], list):
        return None
    return tuple(str(name) for name in per_example[index])
