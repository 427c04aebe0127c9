"""The options a step command takes in the guide: the same as its headless command's, checked
before anything runs, or a clear sentence that it takes none (and where to set the value instead).
"""

from __future__ import annotations

import shlex

from tuneui.steps.step_table import BASELINE, COST, DATASET, EVALUATE, TRAIN

# command -> {option: takes a value}; the headless command's own names (tuneui/commands/evaluate.py)
ACCEPTED: dict[str, dict[str, bool]] = {
    BASELINE.command: {"--backend": True, "--model": True, "--shots": True},
    EVALUATE.command: {"--judge": True, "--no-judge": False, "--no-forgetting": False},
}
# Step commands that take no options in the app: what to do instead.
NONE_HERE: dict[str, str] = {
    COST.command: "`tuneui estimate --backend B --model M` takes them headless; the Cost step compares every configured backend",
    TRAIN.command: "set the model with /model first; `tuneui train` takes --epochs, --steps and the rest headless",
    DATASET.command: "`tuneui data check FILE` takes them headless",
    "/split": "set [data] val_fraction and seed in tuneui.toml, or use `tuneui data split --val F --seed N`",
}


class OptionError(ValueError):
    """A step command typed with options it does not take; the message says what to do."""


def checked_options(command: str, argument: str) -> str:
    """`argument` as the step's options (quoted again), or "" for commands that take none."""
    if command in NONE_HERE:
        if argument:
            raise OptionError(f"{command} takes no options in the app: {NONE_HERE[command]}.")
        return ""
    accepted = ACCEPTED.get(command)
    if accepted is None:
        return ""
    try:
        words = shlex.split(argument)
    except ValueError as exc:
        raise OptionError(f"{command} {argument}: {exc} (quote a value with spaces).") from None
    index = 0
    allowed = ", ".join(accepted)
    if command == EVALUATE.command and words and not words[0].startswith("-"):
        index = 1  # the run id, as `tuneui eval RUN`
    while index < len(words):
        word, _, inline = words[index].partition("=")
        if word not in accepted:
            raise OptionError(f"{command} does not take {words[index]!r}; it takes {allowed}, as `tuneui {command[1:]}` does.")
        if accepted[word] and not inline:
            if index + 1 >= len(words) or words[index + 1].startswith("--"):
                raise OptionError(f"{command} {word} needs a value.")
            index += 1
        if word == "--shots":
            value = inline or words[index]
            if not value.isdigit():
                raise OptionError(f"{command} --shots {value}: give a whole number, 0 or more.")
        index += 1
    return shlex.join(words)
