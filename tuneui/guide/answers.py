"""Free questions answered without an assistant model: the common ones, from the project's own
numbers and the docs. Each answer names where to read more; a question about cost on a provider is
routed to the Cost step. Anything else gets how to add an assistant (one value per backend, read
at the next question: no restart).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tuneui.core.files import read_json
from tuneui.core.workspace import Workspace
from tuneui.guide.state import WorkspaceState
from tuneui.steps.step_table import BASELINE, COST, TRAIN

PROVIDERS = ("openai", "azure", "together", "local")
ASSISTANT_EXAMPLES = (
    'local:/path/to/a/model/folder   (free, on this machine; the embedded SmolLM2 is too small to help)',
    'openai:gpt-4o-mini              (needs OPENAI_API_KEY)',
    'together:meta-llama/Llama-3.3-70B-Instruct-Turbo   (needs TOGETHER_API_KEY)',
    'azure:gpt-4o-mini               (needs AZURE_OPENAI_API_KEY and a deployment)',
)
ASSISTANT_COMMAND = "/assistant"


@dataclass(frozen=True)
class FreeAnswer:
    says: tuple[str, ...]
    route: str = ""  # a command to carry out after saying it ("" for none)


def _has(text: str, *words: str) -> bool:
    return any(re.search(rf"\b{re.escape(word)}", text) for word in words)


def answer_free(question: str, state: WorkspaceState, workspace: Workspace) -> FreeAnswer | None:
    """The answer to a common question, or None when it is not one of them."""
    text = question.lower()
    if _has(text, "cost", "price", "pay", "expensive", "cheap", "dollar", "$"):
        provider = next((name for name in PROVIDERS if name in text), "")
        where = f" on {provider}" if provider else ""
        if not state.split:
            return FreeAnswer((f"{COST.name} is counted{where} on the training split's exact tokens: split the data first (/split), then {COST.command}.",))
        return FreeAnswer(
            (f"The {COST.name} step counts it{where} from the training split's exact tokens and the dated price table; opening it.",),
            route=COST.open_command if state.cost_saved else COST.command,
        )
    if _has(text, "lora", "qlora", "adapter"):
        return FreeAnswer((
            "LoRA trains a small add-on (an adapter) beside the frozen model instead of every weight: a "
            "few million numbers, so it trains on one GPU or a CPU and saves as a few megabytes. QLoRA "
            "does the same over a 4-bit copy of the model, to fit bigger models in less memory. "
            "docs/local.md has the recipe and its defaults.",
        ))
    if _has(text, "loss", "overfit") and _has(text, "val", "rise", "rising", "goes up", "increas", "worse", "overfit"):
        return FreeAnswer((
            "Validation loss rising while training loss falls means the model is learning its training "
            "examples by heart (overfitting): it answers them better and new ones worse. Fewer epochs, "
            "more varied examples or a lower learning rate help; the Train view marks the best "
            "checkpoint, and Evaluate scores the model on the held-out answers either way.",
        ))
    if _has(text, "enough") or (_has(text, "how many") and _has(text, "example", "data")):
        return FreeAnswer((_data_enough(state),))
    if _has(text, "fine-tune", "finetune", "fine tune", "tune") and _has(text, "prompt"):
        return FreeAnswer((_tune_or_prompt(state, workspace),))
    return None


def assistant_help() -> tuple[str, ...]:
    """How to add an assistant model for any other question."""
    return (
        "For other questions add an assistant model: type "
        f"`{ASSISTANT_COMMAND} BACKEND:MODEL`, or set [models] assistant in tuneui.toml; "
        "it is used from the next question, no restart. For example:",
        *(f"  {ASSISTANT_COMMAND} {example}" for example in ASSISTANT_EXAMPLES),
        "Without one I answer: fine-tune or fix the prompt? why does validation loss rise? "
        "what would this cost on a provider? is my data enough? what is LoRA?",
    )


def _data_enough(state: WorkspaceState) -> str:
    total = state.train_examples + state.val_examples
    if not total:
        return "Import your examples first; 50 to 100 good ones is where fine-tuning starts to show, hundreds are better."
    advice = (
        "under 50 is usually too few to beat a good prompt: add examples, or use them as k-shot examples"
        if total < 50
        else "enough to see whether tuning helps; more varied examples help more than repeats"
        if total < 500
        else "plenty for a LoRA fine-tune; check quality (the Dataset step's findings) before adding more"
    )
    return f"This project has {total} examples ({state.train_examples} to train on, {state.val_examples} held out): {advice}."


def _tune_or_prompt(state: WorkspaceState, workspace: Workspace) -> str:
    best = _baseline_best(workspace)
    if best is None:
        return (
            "Fine-tuning is the last lever: first see how far a prompt gets. The Baseline step scores the "
            "system prompt, zero-shot and k-shot on your held-out examples; if the best prompt already "
            f"passes, keep the prompt. Type {BASELINE.command} to run it."
        )
    return (
        f"Your best prompt so far is {best}. Fine-tune when that is not good enough and your examples show "
        f"the behaviour you want; the Evaluate step tells you whether the tuned model beats it by more "
        f"than chance. {TRAIN.command} starts a run."
    )


def _baseline_best(workspace: Workspace) -> str | None:
    entries = read_json(workspace.baseline_dir / "best.json", default=None)
    if not isinstance(entries, dict) or not entries:
        return None
    entry = list(entries.values())[-1]
    if not isinstance(entry, dict):
        return None
    value = entry.get("value")
    score = f" ({entry.get('metric')} {value:.2f})" if isinstance(value, (int, float)) else ""
    return f"the {entry.get('variant', '?')} prompt{score}"
