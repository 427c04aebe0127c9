"""The options that shape a training run, declared once: each with its type, bounds and help.

`tuneui train` adds its flags from this table, and `--resume` refuses every one of them (a resumed
run continues as it was started), so a new option is one row here, never a second list to keep in
step. `group` puts the mutually exclusive length options together.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable

from tuneui.commands import MAX_EPOCHS, MAX_STEPS, positive_number, whole_number
from tuneui.core.settings import MAX_BATCH_SIZE, MAX_LEARNING_RATE, MAX_LORA_RANK, MAX_TOKENS


@dataclass(frozen=True)
class RunOption:
    flag: str
    help: str
    type: Callable[[str], Any] | None = None
    metavar: str | None = None
    group: str | None = None  # options of one group exclude each other
    action: str | None = None  # "append" for options given once per candidate

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup) -> None:
        extra = {"type": self.type} if self.type else {}
        parser.add_argument(self.flag, action=self.action, metavar=self.metavar, help=self.help, **extra)


RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption("--model", "base model: a Hugging Face id, a local folder, or a hosted model (with --compare: repeat it, one per candidate)",
              metavar="MODEL", action="append"),
    RunOption("--steps", "train for N optimizer steps", whole_number(MAX_STEPS), "N", group="length"),
    RunOption("--epochs", "train for N passes over the data", whole_number(MAX_EPOCHS), "N", group="length"),
    RunOption("--save-every", "checkpoint every N steps", whole_number(MAX_STEPS), "N"),
    RunOption("--lora-r", "LoRA rank (default: [local] lora_r, else from the data's size)", whole_number(MAX_LORA_RANK), "R"),
    RunOption("--lora-alpha", "LoRA alpha (default: [local] lora_alpha, else 2 x rank)", whole_number(4 * MAX_LORA_RANK), "A"),
    RunOption("--learning-rate", "peak learning rate (default: [local] learning_rate, else from the model's size)",
              positive_number(MAX_LEARNING_RATE), "LR"),
    RunOption("--batch-size", "examples per optimizer step (default: [local] batch_size)", whole_number(MAX_BATCH_SIZE), "N"),
    RunOption("--max-length", "longest example in tokens (default: [local] max_length, shrunk to the data)", whole_number(MAX_TOKENS), "TOKENS"),
    RunOption("--train-file", "training data (default: data/train.jsonl)", metavar="FILE"),
    RunOption("--val-file", "validation data (default: data/val.jsonl)", metavar="FILE"),
)  # fmt: skip


def add_run_options(parser: argparse.ArgumentParser) -> None:
    groups: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for option in RUN_OPTIONS:
        if option.group and option.group not in groups:
            groups[option.group] = parser.add_mutually_exclusive_group()
        option.add_to(groups[option.group] if option.group else parser)


def run_options_given(args: argparse.Namespace) -> list[str]:
    """The flags of RUN_OPTIONS this command line sets (what `--resume` cannot change)."""
    return [option.flag for option in RUN_OPTIONS if getattr(args, option.dest, None)]
