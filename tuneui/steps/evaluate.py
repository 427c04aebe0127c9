"""The Evaluate step: the tuned model against the baseline to beat, same split, same metrics.

`evaluate_run` answers the val split with the run's model, loads (or computes) the saved baseline
of the run's base model, scores both, optionally asks an LLM judge, checks for forgetting, writes
the verdict and saves everything in `runs/<id>/eval/` (answers are reused when the data and the
model did not change, so a second `tuneui eval` with a judge costs only the judge).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping, Sequence

from tuneui.core.backend import ModelRef
from backends.runs import RunFolder
from tuneui.steps.baseline import DEFAULT_SHOTS, BaselineResult, checked, recorded_best, run_baseline
from tuneui.steps.answering import AnswerCount, answer_all
from tuneui.core.evalset import EvalSet, load_eval_set, read_saved, saved_ended
from tuneui.core.files import atomic_write_json
from tuneui.core.forgetting import ForgettingCheck, general_conversations
from tuneui.core.intervals import paired_difference_ci
from tuneui.core.judge import JudgeResult, parse_model_spec, reason_of, run_judge
from tuneui.core.metrics import MetricReport, rouge_l, score_answers
from tuneui.core.rules import Rule, RuleResults, parse_rules
from tuneui.core.trained_split import refuse_another_split
from tuneui.core.verdict import judge_verdict, metric_verdict
from tuneui.core.review import pairs_of
from tuneui.core.review_stats import HumanResult, human_result
from tuneui.core.verdict import lead_verdict
from tuneui.core.workspace import Workspace
from tuneui.errors import UsageError
from tuneui.steps.eval_files import PREDICTIONS_FILE, RESULT_FILE
from tuneui.steps.review import store_of
DIFFERING_SHOWN = 5
Progress = Callable[[str], None]


@dataclass(frozen=True)
class EvalResult:
    run_id: str
    task_type: str
    examples: int
    baseline: BaselineResult
    tuned: MetricReport
    tuned_predictions: tuple[str, ...]
    tuned_ended: tuple[bool | None, ...]  # per answer: ended on its own (True) or at the token cap
    judge: JudgeResult | None
    difference: float  # mean paired difference in the primary metric, tuned - baseline
    difference_ci95: tuple[float, float]
    verdict: str
    differing: tuple[Mapping[str, Any], ...]
    forgetting: ForgettingCheck | None
    rules: tuple[Rule, ...] = ()  # the project's [rules], checked on both sides' answers
    tuned_rules: RuleResults | None = None  # None when the project has no [rules]
    human: HumanResult | None = None  # people's blind review of these pairs; None when nobody voted
    machine_verdict: str = ""  # the judge's or the metrics' verdict; `verdict` leads with people's once enough voted

    def summary(self) -> dict[str, Any]:
        """The object `tuneui eval RUN --json` prints (an exact interface)."""
        return {
            "run_id": self.run_id,
            "split": "val",
            "examples": self.examples,
            "metrics": {
                "baseline": _rounded(self.baseline.best.report.values),
                "tuned": _rounded(self.tuned.values),
            },
            "comparison": self.comparison(),
            "stopped_on_their_own": {
                "baseline": _ended_count(self.baseline.best.ended),
                "tuned": _ended_count(self.tuned_ended),
                "total": self.examples,
            },
            "judge": self.judge.summary() if self.judge else None,
            "verdict": self.verdict,
            "rules": self._rules_summary(),
            "human": self.human.summary() if self.human else None,
        }

    def _rules_summary(self) -> dict[str, Any] | None:
        baseline_rules = self.baseline.best.rules
        if self.tuned_rules is None or baseline_rules is None:
            return None
        return {"baseline": baseline_rules.summary(), "tuned": self.tuned_rules.summary()}

    def comparison(self) -> dict[str, Any]:
        """The primary metric, tuned against the baseline to beat, with the paired 95 % interval."""
        primary = self.tuned.primary
        return {
            "metric": primary,
            "baseline_variant": self.baseline.best.variant,
            "baseline": round(self.baseline.best.report.values[primary], 4),
            "tuned": round(self.tuned.values[primary], 4),
            "difference": round(self.difference, 4),
            "ci95": [round(x, 4) for x in self.difference_ci95],
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything the report needs, saved as `runs/<id>/eval/result.json`."""
        return {
            **self.summary(),
            "task_type": self.task_type,
            "primary_metric": self.tuned.primary,
            "baseline_model": f"{self.baseline.backend}:{self.baseline.model}",
            "baseline_variant": self.baseline.best.variant,
            "baseline_file": self.baseline.best.path.name,  # its answers, in baseline/
            "variants": {v.variant: _rounded(v.report.values) for v in self.baseline.variants},
            "difference": round(self.difference, 4),
            "difference_ci95": [round(x, 4) for x in self.difference_ci95],
            "judge_detail": (
                {
                    "unparsed": self.judge.unparsed,
                    "outcomes": list(self.judge.outcomes),
                    # From the order with the tuned answer as A, which is how the view labels it.
                    "reasons": [reason_of(tuned_first) for tuned_first, _ in self.judge.replies],
                }
                if self.judge
                else None
            ),
            "differing": list(self.differing),
            "forgetting": self.forgetting.to_dict() if self.forgetting else None,
            "rules_detail": self._rules_detail(),
            "machine_verdict": self.machine_verdict or self.verdict,
            "created": time.time(),
        }

    def _rules_detail(self) -> dict[str, Any] | None:
        """What the report and the Evaluate view show of the rules beyond `summary()`."""
        if self.tuned_rules is None or self.baseline.best.rules is None:
            return None
        return {
            "checks": {rule.name: rule.describe() for rule in self.rules},
            "variants": {v.variant: v.rules.summary() for v in self.baseline.variants if v.rules},
            # Per held-out example, in val order: the names of the rules each answer broke.
            "failed": {"baseline": self.baseline.best.rules.failed(), "tuned": self.tuned_rules.failed()},
        }


def evaluate_run(
    workspace: Workspace,
    run_id: str,
    *,
    judge: str | None = None,
    forgetting: bool = True,
    progress: Progress | None = None,
) -> EvalResult:
    """Compare the run's model with the best baseline prompt of its base model; save and return it."""
    from tuneui.core.providers import get_backend

    settings = workspace.settings()
    judge_spec = settings.models.judge if judge is None else judge  # "": no judge at all
    judge_ref = _judge_model(judge_spec) if judge_spec else None  # a typo fails before any model runs
    run = RunFolder.open(workspace.runs_dir, run_id)
    tuned_ref = _tuned_model(run)
    data = load_eval_set(workspace)
    refuse_another_split(workspace, run.run_id, (run.read_spec().options or {}).get("split"), data.fingerprint)
    seed = settings.data.seed
    recorded = recorded_best(workspace, tuned_ref.backend, tuned_ref.base_model, data.fingerprint)
    shots = int(recorded["shots"]) if recorded else DEFAULT_SHOTS
    backend = get_backend(tuned_ref.backend, workspace)
    backend.require_callable(tuned_ref)  # e.g. no Azure deployment: say so before the baseline spends
    count = AnswerCount(0, progress) if progress else None
    baseline = run_baseline(
        workspace, tuned_ref.backend, tuned_ref.base_model, shots=shots, eval_set=data, backend=backend,
        progress=progress, count=count,
    )  # fmt: skip
    params = data.generation_params(seed=seed)
    # Base model first, then the tuned one: a local backend keeps one model loaded at a time.
    base_ref = ModelRef(backend=tuned_ref.backend, base_model=tuned_ref.base_model, kind="base")
    if forgetting and progress:
        progress("forgetting check: general prompts, base vs tuned")
    general_base = backend.generate(base_ref, general_conversations(), params) if forgetting else None
    predictions, tuned_ended = _tuned_predictions(run, backend, tuned_ref, data, asdict(params), progress, count)
    check = None
    if general_base is not None:
        check = ForgettingCheck.of(general_base, backend.generate(tuned_ref, general_conversations(), params))
    tuned = score_answers(data.task_type, predictions, data.references, data.labels)
    rules = parse_rules(settings.rules)
    best = baseline.best
    primary = tuned.primary
    difference, interval = paired_difference_ci(tuned.column(primary), best.report.column(primary), seed=seed)

    judged: JudgeResult | None = None
    if judge_ref:
        if progress:
            progress(f"judge: {judge_spec} on {len(data.val)} examples, both orders")
        judge_backend = backend if judge_ref.backend == tuned_ref.backend else get_backend(judge_ref.backend, workspace)
        judged = run_judge(
            judge_backend,
            judge_ref,
            settings.project.task,
            [e.prompt for e in data.val],
            data.references,
            predictions,
            best.predictions,
            seed=seed,
        )
    if judged:
        verdict = judge_verdict(best.variant, judged)
    else:
        verdict = metric_verdict(
            best.variant, primary, tuned.values[primary], best.report.values[primary], difference, interval, len(data.val)
        )

    store = store_of(run)
    human = None
    if store.exists():  # votes given on an earlier evaluation of the same answers still count
        pairs = pairs_of(data.val, predictions, best.predictions, judged.outcomes if judged else None)
        human = human_result(pairs, store.read()[1], seed=seed)

    tuned_rules = checked(rules, predictions)
    failed = {"baseline": best.rules.failed(), "tuned": tuned_rules.failed()} if tuned_rules and best.rules else None
    result = EvalResult(
        run_id=run.run_id,
        task_type=data.task_type,
        examples=len(data.val),
        baseline=baseline,
        tuned=tuned,
        tuned_predictions=predictions,
        tuned_ended=tuned_ended,
        judge=judged,
        difference=difference,
        difference_ci95=interval,
        verdict=lead_verdict(verdict, best.variant, human),
        differing=_most_different(data, best.predictions, best.report, predictions, tuned, judged, failed),
        forgetting=check,
        rules=rules,
        tuned_rules=tuned_rules,
        human=human,
        machine_verdict=verdict,
    )
    atomic_write_json(run.eval_dir / RESULT_FILE, result.to_dict())
    return result


def _judge_model(spec: str) -> ModelRef:
    from tuneui.core.providers import backend_names

    backend_name, model = parse_model_spec(spec)
    if backend_name not in backend_names():
        raise UsageError(f"--judge {spec!r}: no backend named {backend_name!r}", f"Use one of: {', '.join(backend_names())}.")
    return ModelRef(backend=backend_name, base_model=model, kind="base")


def _tuned_model(run: RunFolder) -> ModelRef:
    ref = run.model_ref()
    if ref is None:
        state = run.read_status().get("status", "unknown")
        raise UsageError(
            f"Run {run.run_id} has no trained model yet (status: {state})",
            f"Wait for it to finish (`tuneui status {run.run_id}`), or evaluate a finished run.",
        )
    return ref


def _tuned_predictions(
    run: RunFolder,
    backend: Any,
    ref: ModelRef,
    data: EvalSet,
    params: Mapping[str, Any],
    progress: Progress | None,
    count: AnswerCount | None = None,
) -> tuple[tuple[str, ...], tuple[bool | None, ...]]:
    path = run.eval_dir / PREDICTIONS_FILE
    saved = read_saved(path) or {}
    # Compared as JSON: tuples in the params come back from the file as lists.
    wanted = json.loads(json.dumps({"model": ref.to_dict(), "val_sha256": data.fingerprint, "params": params}))
    answers = saved.get("predictions")
    if all(saved.get(key) == value for key, value in wanted.items()) and isinstance(answers, list):
        return tuple(str(answer) for answer in answers), saved_ended(saved.get("ended"), len(answers))
    if progress:
        progress(f"tuned: {ref.label} on {len(data.val)} examples")
    from tuneui.core.backend import GenerationParams

    if count is not None:
        count.expect(len(data.val))
    answered, ended = answer_all(backend, ref, [e.prompt for e in data.val], GenerationParams(**params), count, "tuned model")
    predictions = tuple(answered)
    atomic_write_json(path, {**wanted, "predictions": list(predictions), "ended": list(ended)})
    return predictions, tuple(ended)


def _most_different(
    data: EvalSet,
    baseline_answers: Sequence[str],
    baseline: MetricReport,
    tuned_answers: Sequence[str],
    tuned: MetricReport,
    judged: JudgeResult | None,
    rules_failed: Mapping[str, Sequence[Sequence[str]]] | None,
) -> tuple[Mapping[str, Any], ...]:
    """The examples where the two models differ most: by primary-metric gap, then a decisive judge
    outcome, then how different the two answers read. Identical answers are never shown."""
    primary = tuned.primary
    rows = []
    for index in range(len(data.val)):
        if tuned_answers[index] == baseline_answers[index]:
            continue
        gap = tuned.per_example[index][primary] - baseline.per_example[index][primary]
        outcome = judged.outcomes[index] if judged else None
        decisive = 0 if outcome in (None, "tie") else 1
        unlike = 1 - rouge_l(tuned_answers[index], baseline_answers[index])
        rows.append((abs(gap), decisive, unlike, -index, index, gap, outcome))
    rows.sort(reverse=True)
    shown = []
    for *_, index, gap, outcome in rows[:DIFFERING_SHOWN]:
        example = data.val[index]
        shown.append(
            {
                "line": example.line,
                "request": example.user_text,
                "reference": example.answer or "",
                "baseline": baseline_answers[index],
                "tuned": tuned_answers[index],
                "gap": round(gap, 4),
                "judge": outcome,
                "judge_reason": reason_of(judged.replies[index][0]) if judged else None,
                "rules_failed": {side: list(broken[index]) for side, broken in rules_failed.items()} if rules_failed else None,
            }
        )
    return tuple(shown)


def _ended_count(ended: Sequence[bool | None]) -> int | None:
    """How many answers ended on their own; None when the backend could not tell."""
    if not ended or any(flag is None for flag in ended):
        return None
    return sum(1 for flag in ended if flag)


def _rounded(values: Mapping[str, float]) -> dict[str, float]:
    return {name: round(value, 4) for name, value in values.items()}
