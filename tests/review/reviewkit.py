"""The demo project's 22 held-out examples with fixed evaluation files (no model runs): what
`tuneui eval` leaves behind, for the review tests."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Sequence

from tuneui.core.backend import ModelRef, TrainSpec
from backends.runs import RunFolder
from tuneui.core.dataset.loader import read_chat_jsonl
from tuneui.core.dataset.split import publish_split, split
from tuneui.core.files import atomic_write_json
from tuneui.core.settings import Settings
from tuneui.core.workspace import Workspace, init_workspace

RUN_ID = "20261207-120000-demo"
BASELINE_FILE = "local-demo-3-shot.json"


def demo_project(root: Path) -> Workspace:
    """The demo's 150 examples split as `tuneui demo` splits them: 128 train, 22 held out."""
    settings = Settings()
    settings.project.name = "Cadence Cycles support (demo)"
    workspace = init_workspace(root, settings)
    with resources.as_file(resources.files("tuneui").joinpath("data/demo/examples.jsonl")) as path:
        examples = read_chat_jsonl(path)
    publish_split(workspace.data_dir, split(examples, 0.15, 0), 0.15, 0)
    return workspace


def tuned_answer(reference: str, index: int) -> str:
    return reference


def baseline_answer(reference: str, index: int) -> str:
    return f"Thanks for asking! I am not sure about that (#{index}). Please call the shop.\nKeep rolling,\nThe Cadence crew"


def write_evaluated_run(
    workspace: Workspace,
    *,
    judge: Sequence[str] | None = None,
    tuned: Sequence[str] | None = None,
    run_id: str = RUN_ID,
) -> str:
    """A succeeded run with the files `tuneui eval` writes: result.json, predictions.json and the
    baseline answers it compared with. `judge` is the judge's outcome per example, if one ran."""
    val = read_chat_jsonl(workspace.val_file)
    references = [example.answer or "" for example in val]
    tuned = list(tuned) if tuned is not None else [tuned_answer(r, i) for i, r in enumerate(references)]
    baseline = [baseline_answer(r, i) for i, r in enumerate(references)]
    spec = TrainSpec(run_id=run_id, backend="local", model="models/tiny", train_file=str(workspace.train_file))
    run = RunFolder.create(workspace.runs_dir, spec)
    ref = ModelRef("local", "models/tiny", kind="adapter", path=str(run.adapter_dir))
    run.write_status(status="succeeded", model_ref=ref.to_dict())
    val_sha = hashlib.sha256(workspace.val_file.read_bytes()).hexdigest()
    atomic_write_json(run.eval_dir / "predictions.json", {"model": ref.to_dict(), "val_sha256": val_sha, "params": {}, "predictions": tuned})
    atomic_write_json(workspace.baseline_dir / BASELINE_FILE, {"predictions": baseline})
    verdict = "no clear difference: keep the prompt (ROUGE-L 0.90 vs 0.20 on 22 held-out examples)"
    result = {
        "run_id": run_id, "split": "val", "examples": len(val),
        "metrics": {"baseline": {"rouge_l": 0.2}, "tuned": {"rouge_l": 0.9}},
        "comparison": {}, "stopped_on_their_own": {}, "rules": None,
        "judge": ({"model": "local:judge", "wins": judge.count("win"), "ties": judge.count("tie"),
                   "losses": judge.count("loss"), "win_rate": 0.5, "ci95": [0.3, 0.7]} if judge else None),
        "verdict": verdict, "machine_verdict": verdict,
        "task_type": "freetext", "primary_metric": "rouge_l", "baseline_model": "local:models/tiny",
        "baseline_variant": "3-shot", "baseline_file": BASELINE_FILE, "variants": {"3-shot": {"rouge_l": 0.2}},
        "difference": 0.7, "difference_ci95": [-0.1, 0.9], "differing": [], "forgetting": None,
        "judge_detail": {"unparsed": 0, "outcomes": list(judge), "reasons": []} if judge else None,
    }  # fmt: skip
    atomic_write_json(run.eval_dir / "result.json", result)
    return run_id
