"""One module per command group of the `tuneui` CLI; each exposes `register(subparsers)`.

`tuneui.cli` finds them by name, and they share the helpers below, so no command imports
the CLI that loads it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from tuneui.core.workspace import Workspace


def workspace_of(args: argparse.Namespace) -> Workspace:
    from tuneui.core.workspace import find_workspace

    return find_workspace(args.project)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


# Bounds of the flags that have no setting behind them: far above any real run, low enough that a
# typo fails in the parser instead of in a planner's loop or a provider's request.
MAX_STEPS = 1_000_000
MAX_EPOCHS = 1_000
MAX_SHOTS = 100


def whole_number(high: int, low: int = 1) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`; argparse names the flag in its error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} must be at least {low}")
        if value > high:
            raise argparse.ArgumentTypeError(f"{value} must be at most {high:,}")
        return value

    return parse


def positive_number(high: float) -> Callable[[str], float]:
    """An argparse type: a finite number above 0 and at most `high` (inf and nan are refused)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not 0 < value <= high:  # False for nan, so nan is refused too
            raise argparse.ArgumentTypeError(f"{value} must be a number above 0 and at most {high:g}")
        return value

    return parse


def share(text: str) -> float:
    """An argparse type: a share strictly between 0 and 1 (a validation fraction)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be between 0 and 1, e.g. 0.15")
    return value
