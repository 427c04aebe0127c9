"""The `tuneui` command: the app by default, and every step as a headless subcommand.

Each command group lives in `tuneui/commands/<group>.py` and exposes `register(subparsers)`.
Command modules import their heavy dependencies inside the handler, so `tuneui --help` is instant,
and plain `tuneui` (which opens the app) does not load the command groups at all: the app's first
screen is waiting on every import here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Sequence

from tuneui import __version__
from tuneui.core import locations
from tuneui.core.children import end_children, end_children_on_signals, watch_parent
from tuneui.errors import TuneError

OWN_COMMAND_MODULES = ("tuneui.commands.demo",)  # each step's command group is named in its row of the step table


def command_modules() -> tuple[str, ...]:
    from tuneui.steps.step_table import ROWS

    return tuple(dict.fromkeys([*(row.cli for row in ROWS if row.cli), *OWN_COMMAND_MODULES]))


def build_parser(*, with_commands: bool = True) -> argparse.ArgumentParser:
    """The whole command line; without the command groups (`with_commands=False`) it only knows
    what opens the app: the global options, `init` and `ui`."""
    # argparse exits 2 on usage errors, which is already the "cannot run" code of the contract.
    parser = argparse.ArgumentParser(prog="tuneui", description="Fine-tune an LLM that beats your best prompt, from the terminal.")
    parser.add_argument("--version", action="version", version=f"tuneui {__version__}")
    parser.add_argument(
        "--project", metavar="DIR", type=Path, default=None, help="the project folder (default: the current folder)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    init = sub.add_parser("init", help="create a project folder (tuneui.toml, data/, runs/, reports/)")
    init.add_argument("dir", nargs="?", type=Path, default=None, help="where (default: --project or the current folder)")
    init.set_defaults(func=_cmd_init)
    ui = sub.add_parser("ui", help="open the terminal app (the default when no command is given)")
    ui.set_defaults(func=_cmd_ui)
    for name in command_modules() if with_commands else ():
        importlib.import_module(name).register(sub)
    return parser


def _opens_the_app(argv: Sequence[str]) -> bool:
    """Whether `argv` holds only global options (`--project DIR`, `--version`): then no command
    group is needed. Anything else, `--help` or a typo included, gets the whole parser."""
    position = 0
    while position < len(argv):
        token = argv[position]
        if token == "--project":
            position += 2
        elif token.startswith("--project=") or token == "--version":
            position += 1
        else:
            return False
    return position == len(argv)


def _cmd_init(args: argparse.Namespace) -> int:
    from tuneui.core.workspace import init_workspace

    workspace = init_workspace(args.dir or args.project or Path.cwd())
    print(f"Project ready in {workspace.root}")
    print("Next: `tuneui data import FILE` to bring in your examples, or just `tuneui` to be guided.")
    return 0


def _cmd_ui(args: argparse.Namespace) -> int:
    from tuneui.app import run_app
    from tuneui.core.workspace import find_workspace

    return run_app(find_workspace(args.project))


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(with_commands=not _opens_the_app(argv))
    args = parser.parse_args(argv)
    handler = getattr(args, "func", None) or _cmd_ui
    watch_parent()  # a step command the app or the demo started ends with it
    restore_signals = end_children_on_signals()
    try:
        return _run(handler, args)
    finally:
        end_children()
        restore_signals()


def _run(handler, args: argparse.Namespace) -> int:
    try:
        return int(handler(args) or 0)
    except TuneError as exc:
        _print_error(exc.title, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from tuneui.core.backend import BackendError

        from tuneui.core.files import disk_full_error, is_disk_full

        if isinstance(exc, BackendError):
            _print_error(exc.title, exc.hint)
            return 2
        if is_disk_full(exc):  # met by a write outside the atomic ones (an appended event, a log)
            named = disk_full_error(getattr(exc, "filename", None))
            _print_error(named.title, named.hint)
            return named.exit_code
        if locations.debugging():
            raise
        # A bug, not bad input: still one line and no traceback, whose frames and chained
        # exceptions could carry provider text or a key.
        _print_error(
            f"tuneui failed unexpectedly: {type(exc).__name__}: {exc}",
            "This is a bug in tuneui, not in your data. Run again with TUNEUI_DEBUG=1 to see where, and report it.",
        )
        return 2


def _print_error(title: str, hint: str) -> None:
    from tuneui.core.secrets import redact
    from tuneui.core.visible import visible

    # A title may quote a provider's answer or a file's content: redacted, and no control character reaches the terminal.
    print(f"error: {visible(redact(title))}", file=sys.stderr)
    if hint:
        print(f"  hint: {visible(redact(hint))}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
