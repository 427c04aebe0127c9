"""`tuneui demo [DIR] [--headless] [--json]`: the sample project, in the app or run end to end."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tuneui.commands import MAX_STEPS, whole_number

DEFAULT_DIR = "tuneui-demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="create the sample project (no GPU, key or network needed) and open it")
    demo.add_argument("dir", nargs="?", type=Path, default=Path(DEFAULT_DIR), help=f"where (default: ./{DEFAULT_DIR})")
    demo.add_argument("--headless", action="store_true", help="run every step without the UI, Export included")
    demo.add_argument("--json", action="store_true", help="with --headless: print one JSON object")
    demo.add_argument("--steps", type=whole_number(MAX_STEPS), default=None, metavar="N", help="optimizer steps of the demo's training run (default: the planned length)")
    demo.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from tuneui import demo

    steps = args.steps  # None: the defaults rule chooses the length (docs/local.md)
    if args.headless:
        from tuneui.commands import print_json

        result = demo.run_headless(args.dir, train_steps=steps, progress=_progress)
        if args.json:
            print_json(result)
        else:
            _print_summary(args.dir, result)
        return 0
    workspace = demo.create_demo(args.dir, progress=_progress)
    from tuneui.app import run_app

    return run_app(workspace, train_steps=steps)


def _progress(text: str) -> None:
    print(f"demo: {text}", file=sys.stderr, flush=True)


def _print_summary(folder: Path, result: dict) -> None:
    dataset, train = result["dataset"], result["train"]
    metrics = train.get("metrics") or {}
    print(f"Project: {folder.resolve()}")
    print(f"Dataset: {dataset['examples']} examples, {dataset['errors']} errors, {dataset['warnings']} warnings; "
          f"split {dataset['train']} train / {dataset['val']} validation")
    print(f"Baseline to beat: {result['baseline'].get('best')}")
    plan = train.get("plan") or {}
    print(f"Train: run {train.get('run_id')}, {plan.get('steps')} steps at learning rate {plan.get('learning_rate')}, "
          f"loss {metrics.get('first_train_loss')} → {metrics.get('last_train_loss')}")  # fmt: skip
    stopped = result["evaluate"].get("stopped_on_their_own") or {}
    if stopped.get("tuned") is not None:
        print(f"Answers that ended on their own: tuned {stopped['tuned']}, best prompt {stopped['baseline']}, of {stopped['total']}")
    print(f"Evaluate: {result['evaluate'].get('verdict')}")
