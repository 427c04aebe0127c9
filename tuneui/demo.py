"""The demo project: the bundled Cadence Cycles sample copied into a workspace that names the real
embedded model (SmolLM2-135M-Instruct), and every step run headless on it
(`tuneui demo DIR --headless --json`).

The model is prepared once per user by `backends.local.models` in a child process (it needs
torch), so the app process stays light.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from tuneui.core import providers as registry
from tuneui.core.workspace import Workspace, init_workspace
from tuneui.errors import TuneError
from tuneui.steps import step_table
from tuneui.guide.runner import StepResult, StepRunner
from tuneui.guide.state import observe

SAMPLE = "data/demo"
# The demo sets no knob of its own: the baseline's shots are the default (3), and the training
# length, learning rate and LoRA shape come from the defaults rule (docs/local.md) and the budget
# in its tuneui.toml, sized for a quiet 2-core CPU and its six-minute goal (docs/benchmarks.md).
Progress = Callable[[str], None]


def create_demo(target: Path, progress: Progress | None = None) -> Workspace:
    """A ready demo workspace at `target`; an existing project there is reused as it is."""
    workspace = Workspace(Path(target).resolve())
    if workspace.exists():
        return workspace
    if workspace.root.exists() and any(workspace.root.iterdir()):
        raise TuneError(
            f"{workspace.root} is not empty and holds no tuneui project",
            "Give `tuneui demo` a new or empty folder, e.g. `tuneui demo cadence-demo`.",
        )
    from tuneui.core.backend import BackendError
    from backends.local.models import ensure_embedded_model

    try:
        model_dir, source = ensure_embedded_model(progress)
    except BackendError as exc:
        raise TuneError(exc.title, exc.hint) from None
    if progress:
        progress(f"model: {model_dir.name}, from {source}")
    sample = resources.files("tuneui").joinpath(SAMPLE)
    workspace.root.mkdir(parents=True, exist_ok=True)
    template = sample.joinpath("tuneui.toml").read_text(encoding="utf-8")
    workspace.config_path.write_text(_with_local_model(template, model_dir), encoding="utf-8")
    init_workspace(workspace.root)
    workspace.settings()  # the shipped template must validate; fail here, not mid-demo
    examples = sample.joinpath("examples.jsonl")
    with resources.as_file(examples) as examples_path:
        if progress:
            progress("importing the 150 sample examples")
        _require(StepRunner(workspace).import_file(str(examples_path)))
    return workspace


def run_headless(target: Path, *, train_steps: int | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Every step without the UI; the object `tuneui demo DIR --headless --json` prints.

    Its top-level keys are an exact interface: baseline, dataset, cost, train, evaluate, and one more
    per step whose `headless` gives an object (export), named after the step. Timings go
    to `progress`, not into the object. An existing project keeps its split, and only its local
    model is run, without a judge: the demo never spends money on a hosted model.
    """
    workspace = create_demo(target, progress)
    if not workspace.settings().models.local:
        raise TuneError(
            f"{workspace.root} names no local model ([models] local), and the headless demo runs only local models",
            "Set [models] local in its tuneui.toml, or give `tuneui demo` a new folder for the sample project.",
        )
    runner = StepRunner(workspace, train_steps=train_steps)

    def step(name: str, call: Callable[[], StepResult]) -> StepResult:
        if progress:
            progress(name)
        started = time.monotonic()
        result = _require(call())
        if progress:
            progress(f"{name} done in {time.monotonic() - started:.1f} s")
        return result

    checked = step("dataset", runner.check)
    state = observe(workspace)
    if state.split:  # re-splitting an existing project would change what its runs were scored on
        split = StepResult(True, {"train": state.train_examples, "val": state.val_examples})
    else:
        split = step("split", runner.split)
    here = registry.here().name  # the demo trains the embedded model on this machine, never spends
    baseline = step("baseline", lambda: runner.run_command(["baseline", "--backend", here]))
    cost = step("cost", runner.cost)
    length = ["--steps", str(train_steps)] if train_steps else []
    trained = step("train", lambda: runner.run_command(["train", "--backend", here, *length, "--wait"]))
    run_id = str(trained.data.get("run_id"))
    # No judge: a project reused here may name a hosted one, and the demo never spends money.
    evaluated = step("evaluate", lambda: runner.evaluate(run_id, judge=False))
    result: dict[str, Any] = {
        "baseline": dict(baseline.data),
        "dataset": {
            "file": checked.data.get("file"),
            "examples": checked.data.get("examples"),
            "errors": len(checked.data.get("errors") or []),
            "warnings": len(checked.data.get("warnings") or []),
            "findings": _count_codes(checked.data),
            "tokens": (checked.data.get("tokens") or {}).get("total"),
            "train": split.data.get("train"),
            "val": split.data.get("val"),
        },
        "cost": dict(cost.data),
        "train": dict(trained.data),
        "evaluate": dict(evaluated.data),
    }
    for row in step_table.STEPS:  # a step added after these five runs through its own `headless`
        headless = step_table.behaviour(row).headless
        started = time.monotonic()
        data = headless(runner)
        if data is not None:
            result[row.name.lower()] = dict(data)
            if progress:
                progress(f"{row.name.lower()} done in {time.monotonic() - started:.1f} s")
    return result


def _count_codes(check: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in [*(check.get("errors") or []), *(check.get("warnings") or [])]:
        counts[finding.get("code", "?")] = counts.get(finding.get("code", "?"), 0) + 1
    return counts


def _require(result: StepResult) -> StepResult:
    if not result.ok:
        raise TuneError(result.title, result.hint)
    return result


def _with_local_model(template: str, model_dir: Path) -> str:
    """The template with `[models] local` naming the model's folder (a TOML basic string)."""
    line = f"local = {json.dumps(str(model_dir))}"
    lines = template.splitlines()
    for position, text in enumerate(lines):
        if text.strip().replace(" ", "") == 'local=""':
            lines[position] = line
            return "\n".join(lines) + "\n"
    raise TuneError("The demo's tuneui.toml template has no `local = \"\"` line", "Reinstall tuneui; the package data is damaged.")
