"""The Baseline step: the best plain prompt on the base model, scored on the val split.

Variants: zero-shot (the bare request), the system prompt (from tuneui.toml, else the one the
training data uses most), and k-shot (the system prompt plus k train examples drawn with the
project seed; never from val). Each variant's answers are saved in `baseline/<key>.json`, where
the key covers backend, model, variant, generation settings and the val file's hash, so nothing is
recomputed and later comparisons use exactly the same answers. The best variant on the primary
metric is recorded in `baseline/best.json` as "the baseline to beat". The project's task rules are
checked on every variant's answers each time, so editing a rule never asks a model again.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from tuneui.core.backend import Backend, ModelRef
from tuneui.core.dataset.model import Example
from tuneui.core.evalset import EvalSet, load_eval_set, message_text, read_saved, saved_ended, without_system
from tuneui.core.files import atomic_write_json
from tuneui.core.metrics import MetricReport, score_answers
from tuneui.core.rules import Rule, RuleResults, check_answers, parse_rules
from tuneui.core.workspace import Workspace
from tuneui.steps.answering import AnswerCount, answer_all

DEFAULT_SHOTS = 3
Progress = Callable[[str], None]


@dataclass(frozen=True)
class PromptVariant:
    """A prompt a user could deploy today: an optional system prompt and fixed example turns."""

    name: str
    system: str | None = None
    shots: tuple[tuple[tuple[str, str], ...], ...] = ()  # per shot: its (role, content) turns

    def conversation(self, example: Example) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        if self.system:
            messages.append({"role": "system", "content": self.system})
        for shot in self.shots:
            messages.extend({"role": role, "content": content} for role, content in shot)
        return messages + without_system(example.prompt)

    def key_material(self) -> dict[str, Any]:
        return {"name": self.name, "system": self.system, "shots": [list(map(list, s)) for s in self.shots]}


@dataclass(frozen=True)
class VariantResult:
    variant: str
    predictions: tuple[str, ...]
    report: MetricReport
    path: Path
    cached: bool
    rules: RuleResults | None = None  # None when the project has no [rules]
    ended: tuple[bool | None, ...] = ()  # per answer: ended on its own (True) or at the token cap


@dataclass(frozen=True)
class BaselineResult:
    backend: str
    model: str
    shots: int
    task_type: str
    variants: tuple[VariantResult, ...]
    best: VariantResult

    def summary(self) -> dict[str, Any]:
        """The object `tuneui baseline --json` prints."""
        return {
            "backend": self.backend,
            "model": self.model,
            "split": "val",
            "task_type": self.task_type,
            "primary_metric": self.best.report.primary,
            "variants": {v.variant: _rounded(v.report.values) for v in self.variants},
            "best": self.best.variant,
            "rules": {v.variant: v.rules.summary() for v in self.variants if v.rules} or None,
        }


def prompt_variants(settings_system_prompt: str, train: Sequence[Example], shots: int, seed: int) -> list[PromptVariant]:
    """Zero-shot, system prompt (when there is one) and k-shot (when k > 0 and train has examples)."""
    system = settings_system_prompt.strip() or _common_system_prompt(train)
    variants = [PromptVariant("zero-shot")]
    if system:
        variants.append(PromptVariant("system", system=system))
    usable = [e for e in train if e.answer is not None]
    k = min(shots, len(usable))
    if k > 0:
        chosen = random.Random(seed).sample(range(len(usable)), k)
        turns = tuple(_shot_turns(usable[i]) for i in chosen)
        variants.append(PromptVariant(f"{k}-shot", system=system, shots=turns))
    return variants


def run_baseline(
    workspace: Workspace,
    backend_name: str,
    model: str,
    *,
    shots: int = DEFAULT_SHOTS,
    eval_set: EvalSet | None = None,
    backend: Backend | None = None,
    progress: Progress | None = None,
    count: AnswerCount | None = None,
) -> BaselineResult:
    """Run (or load) every variant on the val split and record the best one.

    `backend` is an instance of `backend_name` to reuse (a local one keeps its model loaded);
    without it one is made only if some variant has no saved answers.
    """
    from tuneui.core.providers import get_backend, provider

    settings = workspace.settings()
    if provider(backend_name).can("trains_here"):
        model = workspace.local_model_path(model)
    data = eval_set or load_eval_set(workspace)
    params = data.generation_params(seed=settings.data.seed)
    rules = parse_rules(settings.rules)
    ref = ModelRef(backend=backend_name, base_model=model, kind="base")
    results: list[VariantResult] = []
    planned = []
    for variant in prompt_variants(settings.project.system_prompt, data.train, shots, settings.data.seed):
        key = _variant_key(backend_name, model, variant, data.fingerprint, asdict(params))
        path = workspace.baseline_dir / f"{key}.json"
        saved = read_saved(path)
        answers = (saved or {}).get("predictions")
        planned.append((variant, path, saved, isinstance(answers, list) and len(answers) == len(data.val)))
    if count is None and progress is not None:
        count = AnswerCount(0, progress)
    if count is not None:
        count.expect(len(data.val) * sum(1 for *_, cached in planned if not cached))
    for variant, path, saved, cached in planned:
        if cached:
            predictions = tuple(str(answer) for answer in (saved or {})["predictions"])
            ended = saved_ended((saved or {}).get("ended"), len(predictions))
        else:
            if progress:
                progress(f"baseline: {variant.name} on {len(data.val)} examples with {backend_name}:{model}")
            backend = backend or get_backend(backend_name, workspace)
            conversations = [variant.conversation(e) for e in data.val]
            answered, ends = answer_all(backend, ref, conversations, params, count, f"baseline, {variant.name}")
            predictions, ended = tuple(answered), tuple(ends)
        report = score_answers(data.task_type, predictions, data.references, data.labels)
        if not cached:
            record = _variant_record(backend_name, model, variant, data, params, predictions, report)
            atomic_write_json(path, {**record, "ended": list(ended)})
        results.append(VariantResult(variant.name, predictions, report, path, cached, checked(rules, predictions), ended))
    best = _best(results)
    result = BaselineResult(backend_name, model, shots, data.task_type, tuple(results), best)
    _record_best(workspace, result, data.fingerprint)
    return result


def checked(rules: Sequence[Rule], answers: Sequence[str]) -> RuleResults | None:
    """The rules on these answers, or None when the project has none."""
    return check_answers(rules, answers) if rules else None


def recorded_best(workspace: Workspace, backend_name: str, model: str, fingerprint: str) -> Mapping[str, Any] | None:
    """The entry `best.json` holds for this model and val split, if a baseline was run on them."""
    entries = read_saved(workspace.baseline_dir / "best.json") or {}
    entry = entries.get(_best_key(backend_name, model, fingerprint))
    # best.json is a record a person may edit: an entry without a usable shot count is no record.
    if not isinstance(entry, dict) or not isinstance(entry.get("shots"), int) or entry["shots"] < 0:
        return None
    return entry


def _best(results: Sequence[VariantResult]) -> VariantResult:
    # Variants are listed cheapest first, so on a tie the cheaper prompt wins.
    top = max(r.report.values.get(r.report.primary, 0.0) for r in results)
    return next(r for r in results if r.report.values.get(r.report.primary, 0.0) == top)


def _record_best(workspace: Workspace, result: BaselineResult, fingerprint: str) -> None:
    path = workspace.baseline_dir / "best.json"
    entries = read_saved(path) or {}
    best = result.best
    entries[_best_key(result.backend, result.model, fingerprint)] = {
        "backend": result.backend,
        "model": result.model,
        "variant": best.variant,
        "shots": result.shots,
        "metric": best.report.primary,
        "value": round(best.report.values.get(best.report.primary, 0.0), 4),
        "file": best.path.name,
        "recorded": time.time(),
    }
    atomic_write_json(path, entries)


def _best_key(backend_name: str, model: str, fingerprint: str) -> str:
    return f"{backend_name}:{model}@{fingerprint[:12]}"


def _variant_key(backend_name: str, model: str, variant: PromptVariant, fingerprint: str, params: Mapping[str, Any]) -> str:
    material = {"backend": backend_name, "model": model, "variant": variant.key_material(), "val": fingerprint, "params": params}
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    slug = variant.name.replace(" ", "-")
    return f"{slug}-{digest}"


def _variant_record(
    backend_name: str, model: str, variant: PromptVariant, data: EvalSet, params: Any, predictions: Sequence[str], report: MetricReport
) -> dict[str, Any]:
    return {
        "backend": backend_name,
        "model": model,
        "variant": variant.key_material(),
        "val_file": str(data.val_path),
        "val_sha256": data.fingerprint,
        "params": asdict(params),
        "task_type": data.task_type,
        "metrics": _rounded(report.values),
        "predictions": list(predictions),
        "created": time.time(),
    }


def _shot_turns(example: Example) -> tuple[tuple[str, str], ...]:
    turns = [(str(m.get("role")), message_text(m)) for m in without_system(example.prompt)]
    return tuple(turns + [("assistant", example.answer or "")])


def _common_system_prompt(train: Sequence[Example]) -> str:
    prompts = Counter(e.system for e in train if e.system)
    return prompts.most_common(1)[0][0] if prompts else ""


def _rounded(values: Mapping[str, float]) -> dict[str, float]:
    return {name: round(value, 4) for name, value in values.items()}
