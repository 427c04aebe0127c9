"""`tuneui train --compare`: a short run per base-model candidate, then the leaderboard.

Each candidate (`[models] candidates`, or `--model` given more than once) gets a normal run in
`runs/`, started with the same flags: the same data and split, and the same budget (`--steps`,
`--epochs`, or `[local] time_budget_minutes` when neither is given). The runs go one after another:
a local run holds this machine's device, and the next one waits for it anyway. Each finished run is
evaluated on the val split (the judge and the forgetting check are left for the model chosen: the
leaderboard ranks by the metrics, and a judge may cost money), so the leaderboard
ends with every candidate scored. One candidate that cannot start or fails does not stop the others.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from tuneui.core.backend import BackendError
from tuneui.core.visible import visible
from tuneui.errors import TuneError, UsageError

if TYPE_CHECKING:
    from tuneui.core.workspace import Workspace


def train_candidates(workspace: "Workspace", args: argparse.Namespace, spec_of: Any) -> int:
    """Train and evaluate each candidate; `spec_of(workspace, args)` is `tuneui train`'s own spec builder."""
    from tuneui.commands import print_json
    from tuneui.commands.follow import follow
    from tuneui.core.providers import get_backend
    from tuneui.steps.candidates import candidates_of
    from tuneui.steps.evaluate import evaluate_run
    from tuneui.steps.leaderboard import text_table
    from tuneui.steps.leaderboard_files import refresh_board

    if args.resume:
        raise UsageError("--compare starts new runs; --resume continues one", "Drop one of them.")
    models = workspace.settings().models
    named = list(args.model or ()) or list(models.candidates)
    if len(named) < 2:
        raise UsageError(
            "--compare needs two or more candidates" + (f"; only {named[0]!r} is named" if named else ""),
            'Set [models] candidates = ["./model-a", "HuggingFaceTB/SmolLM2-360M-Instruct"] in tuneui.toml, or pass --model twice.',
        )
    outcomes = []
    for backend_name, model in candidates_of(named, models, args.backend):
        say = (lambda text: print(text, file=sys.stderr, flush=True)) if args.json else print
        say(f"== {backend_name}:{visible(model)} ==")
        one = argparse.Namespace(**{**vars(args), "backend": backend_name, "model": model})
        try:
            spec = spec_of(workspace, one)
            backend = get_backend(spec.backend, workspace)
            run_id = backend.start(spec)
            final = follow(backend, run_id, 0, quiet=args.json)
            outcome: dict[str, Any] = {"backend": backend_name, "model": model, "run_id": run_id, "status": final.status}
            if final.status == "succeeded":
                evaluate_run(workspace, run_id, judge="", forgetting=False, progress=_progress)
        except (TuneError, BackendError) as exc:  # the next candidate still gets its run
            say(f"error: {visible(exc.title)}\n  hint: {visible(exc.hint)}")
            outcome = {"backend": backend_name, "model": model, "run_id": None, "status": "not started", "error": exc.title}
        outcomes.append(outcome)
    board = refresh_board(workspace)
    if args.json:
        print_json({"runs": outcomes, "leaderboard": list(board.rows) if board else []})
    elif board is not None:
        print()
        for line in text_table(board):
            print(visible(line))
    return 0 if all(o["status"] == "succeeded" for o in outcomes) else 1


def _progress(message: str) -> None:
    print(f"progress: {message}", file=sys.stderr, flush=True)
