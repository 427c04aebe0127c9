"""The first five steps as `tuneui.steps.step.Step`s: when each is ready, done, running or needs
attention, and how each runs. Their questions and commands are the guide machine's own
(`tuneui.guide.machine`); a step added later brings its own through the same protocol.
"""

from __future__ import annotations

import shlex

from tuneui.guide.state import DAMAGED, WorkspaceState
from tuneui.steps.step import BaseStep, StepResult, StepRunner

FAILED_STATES = ("failed", "cancelled", DAMAGED)  # a latest run in one of these needs attention


class DatasetStep(BaseStep):
    def done(self, state: WorkspaceState) -> bool:
        return state.split

    def run(self, runner: StepRunner, argument: str) -> StepResult:
        return runner.check()


class BaselineStep(BaseStep):
    def ready(self, state: WorkspaceState) -> bool:
        return state.split  # scored on the held-out split, so a split comes first

    def done(self, state: WorkspaceState) -> bool:
        return state.baseline_saved

    def run(self, runner: StepRunner, argument: str) -> StepResult:
        return runner.baseline(*shlex.split(argument))  # `/baseline --model ...` as on the command line


class CostStep(BaseStep):
    def ready(self, state: WorkspaceState) -> bool:
        return state.split

    def done(self, state: WorkspaceState) -> bool:
        return state.cost_saved

    def run(self, runner: StepRunner, argument: str) -> StepResult:
        return runner.cost()


class TrainStep(BaseStep):
    def ready(self, state: WorkspaceState) -> bool:
        return state.split

    def done(self, state: WorkspaceState) -> bool:
        return state.finished_run is not None

    def running(self, state: WorkspaceState) -> bool:
        return state.active_run is not None

    def attention(self, state: WorkspaceState) -> bool:
        latest = state.latest_run
        return bool(latest and latest.status in FAILED_STATES and not state.active_run)

    def run(self, runner: StepRunner, argument: str) -> StepResult:
        return runner.train()


class EvaluateStep(BaseStep):
    def ready(self, state: WorkspaceState) -> bool:
        return state.finished_run is not None and state.active_run is None

    def done(self, state: WorkspaceState) -> bool:
        return state.evaluated

    def run(self, runner: StepRunner, argument: str) -> StepResult:
        from tuneui.guide.state import observe
        from tuneui.steps.step_table import TRAIN

        options = shlex.split(argument)  # `/eval [RUN] [--judge ...]` as on the command line
        run_id = options.pop(0) if options and not options[0].startswith("-") else ""
        run = observe(runner.workspace).finished_run
        if run is None and not run_id:
            return StepResult(False, title="No finished run to evaluate", hint=f"Type {TRAIN.command} to start one.")
        return runner.evaluate(run_id or run.run_id, *options)


DATASET_STEP = DatasetStep()
BASELINE_STEP = BaselineStep()
COST_STEP = CostStep()
TRAIN_STEP = TrainStep()
EVALUATE_STEP = EvaluateStep()
