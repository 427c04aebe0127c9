"""One module per command group of the `tuneui` CLI; each exposes `register(subparsers)`.

`tuneui.cli` finds them by name, and they share the two helpers below, so no command imports
the CLI that loads it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuneui.core.workspace import Workspace


def workspace_of(args: argparse.Namespace) -> Workspace:
    from tuneui.core.workspace import find_workspace

    return find_workspace(args.project)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
