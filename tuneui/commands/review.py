"""`tuneui review RUN`: people's blind review of an evaluated run, in the app or in a spreadsheet."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from tuneui.commands import print_json, workspace_of

if TYPE_CHECKING:
    from tuneui.core.review import Layout, Pair
    from tuneui.core.workspace import Workspace
    from tuneui.steps.review import RunReview


def register(subparsers: argparse._SubParsersAction) -> None:
    review = subparsers.add_parser(
        "review",
        help="judge a run's tuned and baseline answers yourself, blind (opens the app), or through a CSV",
        description="Without --export or --import, opens the app on the blind review of RUN.",
    )
    review.add_argument("run", help="the run id (a folder under runs/), evaluated with `tuneui eval RUN`")
    review.add_argument("--reviewer", metavar="NAME", help="whose votes these are (default: $TUNEUI_REVIEWER, else your login name)")
    files = review.add_mutually_exclusive_group()
    files.add_argument("--export", metavar="FILE.csv", type=Path, help="write the blind pairs for a spreadsheet (no column tells which side is tuned)")
    files.add_argument("--import", dest="import_file", metavar="FILE.csv", type=Path, help="read the votes of a filled-in export back")
    review.add_argument("--json", action="store_true", help="with --import: print people's result as JSON")
    review.set_defaults(func=_cmd_review)


def _cmd_review(args: argparse.Namespace) -> int:
    from tuneui.core.review import checked_reviewer, default_reviewer
    from tuneui.steps.review import open_review

    from tuneui.errors import UsageError

    if args.json and args.import_file is None:
        raise UsageError("--json goes with --import", "The review itself is in the app: `tuneui review RUN`.")
    workspace = workspace_of(args)
    reviewer = checked_reviewer(args.reviewer) if args.reviewer is not None else default_reviewer()
    review = open_review(workspace, args.run)  # not evaluated, or its answers gone: said here, before any screen
    layout = review.store.layout_for(review.pairs)
    if args.export is not None:
        return _export(args.export, review.pairs, layout)
    if args.import_file is not None:
        return _import(args, workspace, review, layout, reviewer)

    from tuneui.app import run_app
    from tuneui.screens.review import ReviewScreen

    return run_app(workspace, first_view=lambda ws: ReviewScreen(ws, review.run_id, reviewer))


def _export(target: Path, pairs: Sequence[Pair], layout: Layout) -> int:
    from tuneui.core.files import atomic_write_text
    from tuneui.core.review_csv import export_csv
    from tuneui.errors import UsageError

    if target.exists():
        raise UsageError(f"{target} exists already", "Give a new file name: an export never overwrites (it may hold votes).")
    atomic_write_text(target, export_csv(pairs, layout))
    print(f"Wrote {len(pairs)} blind pairs to {target}.")
    print("Fill in the vote column (A, B or tie; empty skips) and the reviewer column, then `--import` it.")
    return 0


def _import(args: argparse.Namespace, workspace: Workspace, review: RunReview, layout: Layout, reviewer: str) -> int:
    from tuneui.core.review_csv import import_csv
    from tuneui.core.review_stats import human_result, summary_lines
    from tuneui.core.visible import visible

    votes = import_csv(args.import_file, review.pairs, layout, review.run_id, reviewer, time.time())
    if votes:
        review.store.add(votes)
    human = human_result(review.pairs, review.store.read()[1], seed=workspace.settings().data.seed)
    if args.json:
        print_json(human.summary() if human else None)
        return 0
    print(f"Read {len(votes)} votes from {args.import_file}.")
    for line in summary_lines(human.summary()) if human else ["No votes on this run yet."]:
        print(visible(line))
    print(f"The verdict with them: `tuneui eval {review.run_id}` or `tuneui report {review.run_id}`.")
    return 0
