"""The demo project: the bundled Cadence Cycles sample copied into a workspace with a tiny offline
model, and the five steps run headless on it (`tuneui demo DIR --headless --json`).

The tiny model is built in a child process (it needs torch), so the app process stays light.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from tuneui.core.workspace import Workspace, init_workspace
from tuneui.errors import TuneError
from tuneui.guide.runner import StepResult, StepRunner

SAMPLE = "data/demo"
MODEL_FOLDER = "models/tiny"
DEMO_TRAIN_STEPS = 30
# The tiny model starts from random weights: at the 2e-4 a pretrained model wants, its loss would
# barely move in a demo-length run. The demo workspace says so in its own tuneui.toml.
DEMO_LEARNING_RATE = 1e-2
# A random model never stops talking, so every baseline answer runs to the token budget; one shot
# instead of three keeps the k-shot prompts short enough for the demo's two-minute goal on a CPU.
DEMO_SHOTS = 1
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
    sample = resources.files("tuneui").joinpath(SAMPLE)
    workspace.root.mkdir(parents=True, exist_ok=True)
    template = sample.joinpath("tuneui.toml").read_text(encoding="utf-8")
    model_dir = workspace.root / MODEL_FOLDER
    workspace.config_path.write_text(_with_local_model(template, model_dir), encoding="utf-8")
    init_workspace(workspace.root)
    settings = workspace.settings()  # the shipped template must validate; fail here, not mid-demo
    settings.local.learning_rate = DEMO_LEARNING_RATE
    workspace.save_settings(settings)
    examples = sample.joinpath("examples.jsonl")
    with resources.as_file(examples) as examples_path:
        if progress:
            progress("building the tiny offline model (random weights, tokenizer trained on the examples)")
        _build_tiny_model(model_dir, examples_path)
        if progress:
            progress("importing the 150 sample examples")
        _require(StepRunner(workspace).import_file(str(examples_path)))
    return workspace


def run_headless(target: Path, *, train_steps: int = DEMO_TRAIN_STEPS, progress: Progress | None = None) -> dict[str, Any]:
    """All five steps without the UI; the object `tuneui demo DIR --headless --json` prints.

    Its top-level keys are an exact interface: baseline, dataset, cost, train, evaluate. Timings go
    to `progress`, not into the object.
    """
    workspace = create_demo(target, progress)
    runner = StepRunner(workspace, train_steps=train_steps, baseline_shots=DEMO_SHOTS)

    def step(name: str, call: Callable[[], StepResult]) -> StepResult:
        if progress:
            progress(name)
        started = time.monotonic()
        result = _require(call())
        if progress:
            progress(f"{name} done in {time.monotonic() - started:.1f} s")
        return result

    checked = step("dataset", runner.check)
    split = step("split", runner.split)
    baseline = step("baseline", runner.baseline)
    cost = step("cost", runner.cost)
    trained = step("train", lambda: runner.run_command(["train", "--backend", "local", "--steps", str(train_steps), "--wait"]))
    run_id = str(trained.data.get("run_id"))
    evaluated = step("evaluate", lambda: runner.evaluate(run_id))
    return {
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
    """The template with `[models] local` pointing at the tiny model (a TOML basic string)."""
    line = f"local = {json.dumps(str(model_dir))}"
    lines = template.splitlines()
    for position, text in enumerate(lines):
        if text.strip().replace(" ", "") == 'local=""':
            lines[position] = line
            return "\n".join(lines) + "\n"
    raise TuneError("The demo's tuneui.toml template has no `local = \"\"` line", "Reinstall tuneui; the package data is damaged.")


def _build_tiny_model(model_dir: Path, examples_path: Path) -> None:
    texts = []
    for raw in examples_path.read_text(encoding="utf-8").splitlines():
        if raw.strip():
            texts.extend(str(m.get("content") or "") for m in json.loads(raw).get("messages", []))
    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "texts.txt"
        corpus.write_text("\n".join(texts), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "backends.local.tiny", str(model_dir), str(corpus)], capture_output=True, text=True
        )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise TuneError(
            f"Could not build the tiny demo model: {last}",
            "The demo trains locally: install the local extra, `pip install 'tuneui[local]'`.",
        )
