"""`tuneui train`: start a fine-tuning job on any backend, then (with --wait) follow it.

Backend-neutral: every backend is reached through `tuneui.core.providers.get_backend`, so hosted and
local runs are started and followed the same way. Nothing here imports the ML stack. The commands
that look at runs once started (`status`, `cancel`, `runs`) live in `tuneui.commands.runs`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneui.core.providers import backend_names
from tuneui.commands import print_json, workspace_of
from tuneui.commands import runs as run_commands
from tuneui.commands.follow import follow
from tuneui.commands.run_options import add_run_options, run_options_given
from tuneui.core.visible import visible
from tuneui.errors import UsageError

if TYPE_CHECKING:
    from tuneui.core.backend import Backend
    from tuneui.core.workspace import Workspace


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser("train", help="start a fine-tuning run (returns at once unless --wait)")
    train.add_argument("--backend", help=f"{', '.join(backend_names())} (default: this machine when [models] local is set)")
    train.add_argument(
        "--compare", action="store_true",
        help="a run per candidate ([models] candidates, or each --model) with the same budget, data and split, "
        "one after another, each evaluated; then the leaderboard",
    )  # fmt: skip
    add_run_options(train)  # --model, --steps ... --val-file: tuneui/commands/run_options.py
    train.add_argument("--resume", metavar="RUN", help="continue a stopped run from its newest complete checkpoint")
    train.add_argument(
        "--allow-concurrent", action="store_true",
        help="local: train even while another local training uses this GPU (or this CPU); both share it",
    )  # fmt: skip
    train.add_argument("--wait", action="store_true", help="follow the run until it ends, printing progress")
    train.add_argument("--json", action="store_true", help="print the run's status object as JSON")
    train.set_defaults(func=_cmd_train)
    # Registered here, right after `train`, so `tuneui --help` lists the run commands together.
    run_commands.register(subparsers)


def _cmd_train(args: argparse.Namespace) -> int:
    workspace = workspace_of(args)
    if args.compare:
        from tuneui.commands.train_compare import train_candidates

        return train_candidates(workspace, args, _spec_from_args)
    if args.model and len(args.model) > 1:
        raise UsageError("--model is given more than once", "One model per run; to train each of them, add --compare.")
    args.model = args.model[0] if args.model else None
    if args.resume:
        given = ["--backend"] * bool(args.backend) + run_options_given(args)
        if given:
            raise UsageError(f"--resume continues a run as it was started; {', '.join(given)} cannot change it", "Drop those flags, or start a new run.")
        backend = run_commands.backend_of_run(workspace, args.resume)
        _allow_concurrent(backend, args.allow_concurrent)
        run_id = backend.resume(args.resume)
        after = len(backend.events(run_id))
    else:
        spec = _spec_from_args(workspace, args)
        from tuneui.core.providers import get_backend

        _refuse_a_closed_provider(workspace, spec)
        backend = get_backend(spec.backend, workspace)
        if not args.json:
            _print_plan(spec.options.get("plan"))
        _allow_concurrent(backend, args.allow_concurrent)
        run_id = backend.start(spec)
        after = 0
    plan = _plan_of(workspace, run_id)
    if not args.wait:
        current = backend.status(run_id)
        if args.json:
            print_json(_with_plan(current.to_json(), plan))
        else:
            print(f"Started run {run_id} on {current.backend} (job {visible(str(current.job_id))}).")  # the provider's id
            print(f"Follow it: tuneui status {run_id}    Stop it: tuneui cancel {run_id}")
        return 0
    final = follow(backend, run_id, after, quiet=args.json)
    if args.json:
        shown = _with_plan(final.to_json(), plan)
        if final.status != "succeeded" and final.error:
            # The reason, in the JSON and for the person watching: `--json` keeps stdout for the object.
            shown["error"] = final.error
            print(f"error: run {run_id} {final.status}: {visible(final.error)}", file=sys.stderr)
        print_json(shown)
    return 0 if final.status == "succeeded" else 1


def _plan_of(workspace: "Workspace", run_id: str) -> dict[str, Any] | None:
    """The training plan a local run was started with (its spec keeps it), for `train --json`."""
    from backends.runs import RunFolder

    plan = RunFolder.open(workspace.runs_dir, run_id).read_spec().options.get("plan")
    return dict(plan) if isinstance(plan, dict) else None


def _with_plan(status: dict[str, Any], plan: dict[str, Any] | None) -> dict[str, Any]:
    return {**status, "plan": plan} if plan else status


def _print_plan(plan: Any) -> None:
    if not isinstance(plan, dict):
        return
    minutes = f", about {plan['minutes']:g} min" if plan.get("minutes") is not None else ""
    print(f"Plan: {plan['steps']} steps ({plan['epochs']:g} epochs) at learning rate {plan['learning_rate']:.2g}, "
          f"batch {plan['batch_size']}, LoRA r {plan['lora_r']} alpha {plan['lora_alpha']}, max length {plan['max_length']}{minutes}")  # fmt: skip
    for reason in plan.get("reasons") or ():
        print(f"  {reason}")


def _spec_from_args(workspace: "Workspace", args: argparse.Namespace):
    from tuneui.core.backend import TrainSpec

    from tuneui.core.providers import choose, provider

    settings = workspace.settings()
    backend, model = choose(settings.models, args.backend, args.model)
    declared = provider(backend)
    if not model:
        raise UsageError(f"No base model for the {backend} backend", "Pass --model, or set [models] local (or hosted) in tuneui.toml.")
    train_file = Path(args.train_file) if args.train_file else workspace.train_file
    if not train_file.is_file():
        raise UsageError(f"No training data: {train_file} is missing", "Run `tuneui data split` to write data/train.jsonl and data/val.jsonl.")
    val_file = Path(args.val_file) if args.val_file else workspace.val_file
    if args.val_file and not val_file.is_file():
        raise UsageError(f"Validation file {val_file} is missing", "Pass an existing file, or leave --val-file out.")
    if not val_file.is_file():
        print(f"note: no {val_file}: training without validation loss or early stopping.", file=sys.stderr)
    elif not args.train_file and not args.val_file:
        _refuse_a_leaking_split(workspace)
    local = settings.local
    extras: dict[str, Any] = {}
    if declared.can("trains_here"):
        # [local] settings and the defaults rule describe this box's recipe; hosted providers
        # choose their own. The plan is fixed here, so the run does what was shown before it.
        plan = _local_plan(workspace, model, train_file, val_file if val_file.is_file() else None, args)
        extras = {"learning_rate": plan.learning_rate, "batch_size": plan.batch_size, "lora_alpha": plan.lora_alpha,
                  "lora_dropout": local.lora_dropout, "max_length": plan.max_length, "lora_r": plan.lora_r,
                  "options": {"plan": plan.to_json()}}  # fmt: skip
        steps, epochs = plan.steps, None
    else:
        given = (("lora_r", args.lora_r or local.lora_r), ("lora_alpha", args.lora_alpha or local.lora_alpha),
                 ("learning_rate", args.learning_rate), ("batch_size", args.batch_size), ("max_length", args.max_length))
        extras = {name: value for name, value in given if value}  # fmt: skip
        steps, epochs = args.steps, args.epochs
    from tuneui.core.trained_split import split_record

    # Which split this run trains on, by content: `tuneui eval` refuses another one.
    extras["options"] = {**extras.get("options", {}), "split": split_record(workspace, train_file, val_file if val_file.is_file() else None)}
    return TrainSpec(
        run_id=workspace.new_run_id(),
        backend=backend,
        model=model,
        # absolute, not resolved: data/train.jsonl is a link to the current split and stays one.
        train_file=str(train_file.absolute()),
        val_file=str(val_file.absolute()) if val_file.is_file() else None,
        epochs=epochs,
        steps=steps,
        save_every=args.save_every,
        seed=settings.data.seed,
        **extras,
    )


def _refuse_a_closed_provider(workspace: "Workspace", spec: Any) -> None:
    """A provider past its last day for new jobs is refused here, before any upload."""
    from tuneui.core.providers import provider, today

    declared = provider(spec.backend)
    if not declared.accepts_jobs(today()):
        from tuneui.commands.estimate import messages_of, refusal_of_closed

        raise refusal_of_closed(declared, spec.model, messages_of(Path(spec.train_file)), workspace.settings(), spec.epochs)


def _local_plan(workspace: "Workspace", model: str, train_file: "Path", val_file: "Path | None", args: argparse.Namespace):
    from backends.local.config import model_config, plan_local_run, train_token_counts
    from tuneui.core.gpu import find_gpus

    folder = workspace.local_model_path(model)
    counts, _ = train_token_counts(folder, train_file)
    val_counts = train_token_counts(folder, val_file)[0] if val_file else []  # the validation passes cost time too
    gpus = find_gpus()
    return plan_local_run(
        folder, model_config(folder, workspace.root), counts, workspace.settings().local,
        min(gpus, key=lambda g: g.memory_gib) if gpus else None, val_counts,
        learning_rate=args.learning_rate, steps=args.steps, epochs=args.epochs, batch_size=args.batch_size,
        max_length=args.max_length, lora_r=args.lora_r, lora_alpha=args.lora_alpha,
    )  # fmt: skip


def _refuse_a_leaking_split(workspace: "Workspace") -> None:
    """A split made by `tuneui data split` never leaks; if it does now (a hand edit, a copy), refuse it.

    Hand-made train/val files are the user's own design and are taken as they are.
    """
    from tuneui.core.dataset import read_chat_jsonl
    from tuneui.core.dataset.split import read_split_record, refuse_leakage

    if read_split_record(workspace.data_dir) is not None:
        train, val = read_chat_jsonl(workspace.train_file), read_chat_jsonl(workspace.val_file)
        refuse_leakage(train, val, workspace.train_file, workspace.val_file)


def _allow_concurrent(backend: "Backend", allowed: bool) -> None:
    # Only a backend that trains here shares a device between runs; hosted providers queue their own jobs.
    from tuneui.core.providers import provider

    if allowed and provider(backend.name).can("shares_device"):
        backend.allow_concurrent = True

