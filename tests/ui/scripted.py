"""A scripted step runner for Pilot tests: each step answers at once and leaves on disk what
the real command would, so the guide's flow through the app is tested without child processes."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from tuneui.core.workspace import Workspace
from tuneui.guide.runner import StepResult

from .conftest import write_baseline, write_cost, write_run, write_split

CHECK = {
    "file": "all.jsonl",
    "examples": 25,
    "errors": [],
    "warnings": [
        {"line": 4, "code": "duplicate", "message": "Same request and answer as line 2.", "hint": "Delete one."},
        {"line": 9, "code": "contradiction", "message": "Same request as line 3, different answer.", "hint": "Keep one."},
    ],
    "tokens": {"encoding": "o200k_base", "per_example": [], "total": 1234},
}
BASELINE = {
    "primary_metric": "rouge_l",
    "variants": {"zero-shot": {"rouge_l": 0.12}, "system": {"rouge_l": 0.18}, "3-shot": {"rouge_l": 0.25}},
    "best": "3-shot",
}


@dataclass
class ScriptedRunner:
    workspace: Workspace
    calls: list[str] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)

    def check(self) -> StepResult:
        self.calls.append("check")
        return StepResult(True, CHECK, summary="Checked all.jsonl: 0 errors, 2 warnings, each with its line.")

    def split(self) -> StepResult:
        self.calls.append("split")
        write_split(self.workspace, train=20, val=5)
        return StepResult(True, {"train": 20, "val": 5}, summary="Split: 20 to train on, 5 held out to score on.")

    def baseline(self) -> StepResult:
        self.calls.append("baseline")
        write_baseline(self.workspace)
        return StepResult(True, BASELINE, summary="Baseline saved.")

    def cost(self) -> StepResult:
        self.calls.append("cost")
        write_cost(self.workspace)
        from tuneui.core.files import read_json

        return StepResult(True, read_json(self.workspace.reports_dir / "cost.json"), summary="Costs before anything starts.")

    def train(self) -> StepResult:
        self.calls.append("train")
        folder = write_run(self.workspace, run_id="20261123-130000-beef", status="running")
        return StepResult(True, {"run_id": folder.run_id}, summary=f"Run {folder.run_id} started on the local backend.")

    def evaluate(self, run_id: str) -> StepResult:
        self.calls.append(f"eval {run_id}")
        return StepResult(False, title="not scripted")

    def run_command(self, args, *, expect_json: bool = True, accept_codes=(0,)) -> StepResult:
        self.calls.append(" ".join(args))
        return StepResult(True)

    def import_file(self, path: str) -> StepResult:
        self.calls.append(f"import {path}")
        return StepResult(True, {"file": path}, summary="Imported.")
