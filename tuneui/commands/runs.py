"""`tuneui status`, `cancel` and `runs`: look at, stop and list the runs of a project, on any backend.

Each run's folder names its backend, which `tuneui.core.providers.get_backend` then reaches; nothing
here imports the ML stack. `tuneui.commands.train` registers these next to `train`.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from tuneui.commands import print_json, workspace_of
from tuneui.commands.follow import loss_text, resume_hint
from tuneui.core.visible import visible
from tuneui.errors import UsageError

if TYPE_CHECKING:
    from tuneui.core.backend import Backend
    from tuneui.core.workspace import Workspace


def register(subparsers: argparse._SubParsersAction) -> None:
    status = subparsers.add_parser("status", help="show a run's state and losses (default: the newest run)")
    status.add_argument("run", nargs="?", help="the run id (a folder under runs/)")
    status.add_argument("--json", action="store_true", help="print the status object as JSON")
    status.set_defaults(func=_cmd_status)

    cancel = subparsers.add_parser("cancel", help="stop a run (default: the newest run); a local run saves a checkpoint first")
    cancel.add_argument("run", nargs="?", help="the run id (default: the newest run, as `tuneui status` shows it)")
    cancel.set_defaults(func=_cmd_cancel)

    runs = subparsers.add_parser("runs", help="list the runs of this project")
    runs.add_argument(
        "--compare", action="store_true",
        help="the leaderboard: every baseline variant and run on the current split, scored side by side",
    )  # fmt: skip
    runs.add_argument("--json", action="store_true", help="with --compare: print the rows as a JSON list")
    runs.set_defaults(func=_cmd_runs)


def _cmd_status(args: argparse.Namespace) -> int:
    workspace = workspace_of(args)
    run_id = args.run or _newest_run(workspace)
    backend = backend_of_run(workspace, run_id)
    current = backend.status(run_id)
    if args.json:
        print_json(current.to_json())
        return 0
    metrics = current.metrics
    # The job id, model label and error come from a provider or a worker: printed with their control characters visible.
    print(f"Run {current.run_id} on {current.backend}: {current.status}" + (f" (job {visible(current.job_id)})" if current.job_id else ""))
    print(f"  steps {metrics.get('steps', 0)}  train loss {loss_text(metrics.get('first_train_loss'))} -> {loss_text(metrics.get('last_train_loss'))}"
          f"  valid loss {loss_text(metrics.get('last_valid_loss'))} (best {loss_text(metrics.get('best_valid_loss'))} at step {metrics.get('best_step') or '-'})")  # fmt: skip
    if current.model_ref is not None:
        print(f"  model: {visible(current.model_ref.label)}")
    if current.error:
        print(f"  error: {visible(current.error)}")
    hint = resume_hint(backend, current)
    if hint:
        print(f"  {hint}")
    return 0


def _cmd_cancel(args: argparse.Namespace) -> int:
    workspace = workspace_of(args)
    run_id = args.run or _newest_run(workspace)
    backend_of_run(workspace, run_id).cancel(run_id)
    print(f"Cancel requested for run {run_id}. `tuneui status {run_id}` shows when it has stopped.")
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    from backends.runs import list_runs

    workspace = workspace_of(args)
    workspace.settings()
    if args.compare:
        return _compare(workspace, args.json)
    if args.json:
        raise UsageError("--json goes with --compare", "Use `tuneui runs --compare --json`, or `tuneui status RUN --json` for one run.")
    folders = list_runs(workspace.runs_dir)
    if not folders:
        print("No runs yet. Start one with `tuneui train`.")
        return 0
    print(f"{'run':<22} {'backend':<9} {'status':<10} {'steps':>6} {'best valid':>10}  model")
    from backends.runs import DamagedRunError

    damaged = 0
    for folder in folders:
        try:
            current = folder.job_status()
            if current.status not in ("succeeded", "failed", "cancelled"):
                current = backend_of_run(workspace, folder.run_id).status(folder.run_id)  # notices dead workers
            spec = folder.read_spec()
        except DamagedRunError as exc:
            # One damaged folder must not hide the other runs: list it, and say why below.
            print(f"{folder.run_id:<22} {'?':<9} {'damaged':<10}")
            print(f"note: {visible(exc.title)}", file=sys.stderr)
            damaged += 1
            continue
        print(f"{folder.run_id:<22} {current.backend:<9} {current.status:<10} {current.metrics.get('steps', 0):>6} "
              f"{loss_text(current.metrics.get('best_valid_loss')):>10}  {visible(spec.model)}")  # fmt: skip
    return 1 if damaged else 0


def _compare(workspace: "Workspace", as_json: bool) -> int:
    from tuneui.steps.leaderboard import text_table
    from tuneui.steps.leaderboard_files import project_board, save_board

    board = project_board(workspace)
    save_board(workspace, board)  # what the app's Evaluate view shows
    if as_json:
        print_json(list(board.rows))
        return 0
    if not board.rows:
        print("Nothing to compare yet: run `tuneui baseline --candidates` (or --model A --model B), then `tuneui train --compare`.")
        return 0
    for line in text_table(board):
        print(visible(line))  # model names and notes come from files a person may edit
    return 0


def backend_of_run(workspace: "Workspace", run_id: str) -> "Backend":
    from tuneui.core.providers import get_backend
    from backends.runs import RunFolder

    workspace.settings()  # a clear error outside a project, before anything else
    return get_backend(RunFolder.open(workspace.runs_dir, run_id).read_spec().backend, workspace)


def _newest_run(workspace: "Workspace") -> str:
    from backends.runs import list_runs

    workspace.settings()
    folders = list_runs(workspace.runs_dir)
    if not folders:
        raise UsageError("No runs yet in this project", "Start one with `tuneui train`.")
    return folders[-1].run_id
