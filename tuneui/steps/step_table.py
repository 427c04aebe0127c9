"""The steps and the Chat view, one row each: the one place a step's name, key and command are
written, and the only list of them. The guide, its state, the runner, the sidebar, the key bindings,
the command palette, `/help`, the CLI, the demo, the views and the cards all read this table, so a
new step is one row plus its own files.

A row names its behaviour (a `tuneui.steps.step.Step`), its view, its card and its CLI command group
by `module:attribute` (or module) and `load` imports them when first used: the table stays
importable without Textual, and each view's widgets load only when it opens.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from tuneui.steps.step import BaseStep, Step

OPEN_COMMAND = "/open"  # `/open NAME` opens the view of any row that has one


@dataclass(frozen=True)
class StepInfo:
    name: str  # the sidebar's label, the view's name in `/open NAME`
    key: str  # the key that opens its view (Textual's name, "f2"), "" for none
    command: str  # what the user types to run it
    help: str  # one line for /help and the command palette
    action: str = ""  # the guide's Action kind the command starts; "" when the command opens the view
    view: str = ""  # "module:Class" of its full view, built from the workspace
    card: str = ""  # "module:function" turning its command's JSON into the card the guide shows
    is_step: bool = True  # Chat is a view the user opens, not a step the project completes
    step: str = ""  # "module:object" of its `tuneui.steps.step.Step`: when it is done, what the guide asks, how it runs
    cli: str = ""  # the `tuneui.commands` module that registers its command line
    in_footer: bool = True  # its key listed in the main screen's footer (all fit in 80 columns)

    @property
    def open_command(self) -> str:
        return f"{OPEN_COMMAND} {self.name}"


BASELINE = StepInfo(
    "Baseline", "", "/baseline", "try the task with prompts first (system prompt, zero-shot, k-shot)",
    action="baseline", card="tuneui.viewmodels.cards:baseline_card",
    step="tuneui.guide.builtin_steps:BASELINE_STEP", cli="tuneui.commands.evaluate",
)  # fmt: skip
DATASET = StepInfo(
    "Dataset", "f2", "/data", "check the examples and split them (train / held-out validation)",
    action="check", view="tuneui.screens.dataset:DatasetScreen", card="tuneui.viewmodels.cards:findings_card",
    step="tuneui.guide.builtin_steps:DATASET_STEP", cli="tuneui.commands.data",
)  # fmt: skip
COST = StepInfo(
    "Cost", "f3", "/cost", "what training costs on each backend, before it starts",
    action="cost", view="tuneui.screens.cost:CostScreen", card="tuneui.viewmodels.cards:cost_card",
    step="tuneui.guide.builtin_steps:COST_STEP", cli="tuneui.commands.estimate",
)  # fmt: skip
TRAIN = StepInfo(
    "Train", "f4", "/train", "start a training run, or watch the one running",
    action="train", view="tuneui.screens.train:TrainScreen",
    step="tuneui.guide.builtin_steps:TRAIN_STEP", cli="tuneui.commands.train",
)  # fmt: skip
EVALUATE = StepInfo(
    "Evaluate", "f5", "/eval", "tuned model vs the baseline on the held-out split",
    action="eval", view="tuneui.screens.evaluate:EvaluateScreen", card="tuneui.viewmodels.cards:eval_card",
    step="tuneui.guide.builtin_steps:EVALUATE_STEP", cli="tuneui.commands.evaluate",
)  # fmt: skip
EXPORT = StepInfo(
    "Export", "f7", "/export", "the tuned model as files for Ollama, llama.cpp, vLLM and transformers, checked",
    action="export", view="tuneui.screens.export:ExportScreen", card="tuneui.viewmodels.export_card:export_card",
    step="tuneui.guide.export_step:EXPORT_STEP", cli="tuneui.commands.export",
)  # fmt: skip
CHAT = StepInfo(
    "Chat", "f6", "/chat", "talk to the base and the tuned model side by side",
    view="tuneui.screens.chat:ChatScreen", is_step=False,
)  # fmt: skip
REVIEW = StepInfo(
    "Review", "f8", "/review", "judge the tuned and the baseline answers yourself, blind (A/B): counted in the verdict",
    view="tuneui.screens.review:ReviewScreen", is_step=False, cli="tuneui.commands.review",
    in_footer=False,  # after an evaluation only: `v` in the Evaluate view, /review, the palette
)  # fmt: skip

# In the order the sidebar lists them; the guide leads to the first that is ready and not done.
STEPS = (BASELINE, DATASET, COST, TRAIN, EVALUATE, EXPORT)
ROWS = (*STEPS, CHAT, REVIEW)
STEP_NAMES = tuple(step.name for step in STEPS)
VIEWS = tuple(row for row in ROWS if row.view)
VIEW_NAMES = tuple(row.name for row in VIEWS)


def by_name(name: str) -> StepInfo | None:
    return next((row for row in ROWS if row.name == name), None)


def by_action(action: str) -> StepInfo | None:
    return next((row for row in ROWS if action and row.action == action), None)


def by_command(command: str) -> StepInfo | None:
    return next((row for row in ROWS if row.command == command), None)


def behaviour(row: StepInfo) -> Step:
    """The row's `Step` (the defaults for a row that names none), loaded once."""
    if row.step not in _LOADED:
        _LOADED[row.step] = load(row.step) if row.step else BaseStep()
    return _LOADED[row.step]


_LOADED: dict[str, Step] = {}


def load(reference: str) -> Any:
    """The object a `module:attribute` reference of the table names."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)
