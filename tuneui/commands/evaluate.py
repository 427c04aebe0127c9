"""`tuneui baseline`, `tuneui eval RUN` and `tuneui report RUN`: the Baseline and Evaluate steps."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Mapping

from tuneui.core.providers import backend_names
from tuneui.commands import MAX_SHOTS, print_json, workspace_of


def register(subparsers: argparse._SubParsersAction) -> None:
    baseline = subparsers.add_parser(
        "baseline", help="score prompt variants (zero-shot, system prompt, k-shot) of the base model on the val split"
    )
    baseline.add_argument("--backend", help=f"{', '.join(backend_names())} (default: from tuneui.toml [models])")
    baseline.add_argument(
        "--model", action="append", metavar="MODEL",
        help="the base model (default: from tuneui.toml [models]); repeat it to score several candidates side by side "
        "(a folder, a hub id, or backend:model)",
    )  # fmt: skip
    baseline.add_argument("--candidates", action="store_true", help="score every model of [models] candidates in tuneui.toml")
    baseline.add_argument("--shots", type=int, default=3, metavar="K", help="examples from train in the k-shot prompt (default 3)")
    baseline.add_argument("--json", action="store_true", help="print the result as JSON")
    baseline.set_defaults(func=_cmd_baseline)

    evaluate = subparsers.add_parser("eval", help="compare a run's tuned model with the baseline to beat")
    evaluate.add_argument("run", help="the run id (a folder under runs/)")
    evaluate.add_argument("--judge", metavar="BACKEND:MODEL", help="an LLM judge, e.g. openai:gpt-4o (default: [models] judge)")
    evaluate.add_argument("--no-judge", action="store_true", help="no LLM judge, even where [models] judge names one")
    evaluate.add_argument("--no-forgetting", action="store_true", help="skip the general-prompts forgetting check")
    evaluate.add_argument("--json", action="store_true", help="print the result as JSON")
    evaluate.set_defaults(func=_cmd_eval)

    report = subparsers.add_parser("report", help="write reports/RUN.md and reports/RUN.html from a run's evaluation")
    report.add_argument("run", help="the run id (a folder under runs/)")
    report.set_defaults(func=_cmd_report)


def _cmd_baseline(args: argparse.Namespace) -> int:
    from tuneui.errors import UsageError

    workspace = workspace_of(args)
    if args.candidates or (args.model and len(args.model) > 1):
        return _baseline_of_candidates(workspace, args)
    from tuneui.core.providers import choose

    backend, model = choose(workspace.settings().models, args.backend, args.model[0] if args.model else None)
    _check_shots(args.shots)
    if not model:
        raise UsageError(
            f"No base model for the {backend} backend",
            "Pass --model, or set [models] local (or hosted) in tuneui.toml.",
        )
    from tuneui.steps.baseline import run_baseline

    result = run_baseline(workspace, backend, model, shots=args.shots, progress=_progress)
    _refresh_board(workspace)
    if args.json:
        print_json(result.summary())
        return 0
    _print_baseline(result)
    return 0


def _refresh_board(workspace: Any) -> Any:
    from tuneui.steps.leaderboard_files import refresh_board

    return refresh_board(workspace)  # the leaderboard the app shows, with this step's new scores


def _check_shots(shots: int) -> None:
    from tuneui.errors import UsageError

    if shots < 0:
        raise UsageError(f"--shots {shots} is negative", "Pass 0 for no k-shot variant, or a positive count.")
    if shots > MAX_SHOTS:
        raise UsageError(f"--shots {shots}: at most {MAX_SHOTS} examples in a k-shot prompt", "Pass a smaller count (the default is 3).")


def _baseline_of_candidates(workspace: Any, args: argparse.Namespace) -> int:
    """Each candidate's baseline on the same val split, one after another; `--json` prints a list."""
    from tuneui.errors import UsageError
    from tuneui.steps.baseline import run_baseline
    from tuneui.steps.candidates import candidates_of

    models = workspace.settings().models
    named = list(args.model or ()) + (list(models.candidates) if args.candidates else [])
    if not named:
        raise UsageError("[models] candidates is empty in tuneui.toml", 'Set it, e.g. candidates = ["./model-a", "HuggingFaceTB/SmolLM2-360M-Instruct"], or pass --model twice.')
    _check_shots(args.shots)
    results = [run_baseline(workspace, backend, model, shots=args.shots, progress=_progress) for backend, model in candidates_of(named, models, args.backend)]
    board = _refresh_board(workspace)
    if args.json:
        print_json([result.summary() for result in results])
        return 0
    for index, result in enumerate(results):
        if index:
            print()
        _print_baseline(result)
    if board is not None:
        from tuneui.core.visible import visible

        print(f"\n{visible(board.advice)}")
    print("Side by side, with the runs: `tuneui runs --compare`.")
    return 0


def _print_baseline(result: Any) -> None:
    from tuneui.core.visible import visible

    summary = result.summary()
    backend, model = result.backend, visible(result.model)
    print(f"Baseline of {backend}:{model} on {len(result.best.predictions)} validation examples ({result.task_type}):")
    _print_table(summary["variants"], summary["best"])
    if summary["rules"]:
        _print_rules(summary["rules"])
    primary = summary["primary_metric"]
    print(f"Baseline to beat: {result.best.variant} ({primary} {result.best.report.values[primary]:.3f}).")


def _cmd_eval(args: argparse.Namespace) -> int:
    from tuneui.steps.evaluate import evaluate_run

    workspace = workspace_of(args)
    judge = "" if args.no_judge else args.judge
    result = evaluate_run(workspace, args.run, judge=judge, forgetting=not args.no_forgetting, progress=_progress)
    _refresh_board(workspace)
    if args.json:
        print_json(result.summary())
        return 0
    summary = result.summary()
    print(f"Run {result.run_id} on {result.examples} validation examples ({result.task_type}):")
    _print_table({f"{result.baseline.best.variant} prompt": summary["metrics"]["baseline"], "tuned": summary["metrics"]["tuned"]}, None)
    if summary["rules"]:
        _print_rules({f"{result.baseline.best.variant} prompt": summary["rules"]["baseline"], "tuned": summary["rules"]["tuned"]})
    if summary["judge"]:
        j = summary["judge"]
        print(f"Judge {j['model']}: {j['wins']} wins, {j['ties']} ties, {j['losses']} losses.")
    if summary["human"]:
        from tuneui.core.review_stats import summary_lines
        from tuneui.core.visible import visible

        print("People's blind review: " + "; ".join(visible(line) for line in summary_lines(summary["human"])) + ".")
    if result.forgetting:
        base_ok, known = result.forgetting.score(result.forgetting.base)
        tuned_ok, _ = result.forgetting.score(result.forgetting.tuned)
        print(f"Forgetting check: base named {base_ok}/{known} known answers, tuned {tuned_ok}/{known}.")
    print(f"Verdict: {result.verdict}")
    print(f"Report: `tuneui report {result.run_id}`")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from tuneui.steps.report import write_report

    files = write_report(workspace_of(args), args.run)
    print(f"Wrote {files.markdown}")
    print(f"Wrote {files.html}")
    return 0


def _print_table(columns: Mapping[str, Mapping[str, Any]], best: str | None) -> None:
    from tuneui.core.metrics import METRIC_TITLES

    names = [f"{name} *" if name == best else name for name in columns]
    width = max(len(t) for t in METRIC_TITLES.values())
    print(" " * width + "".join(f"  {n:>16}" for n in names))
    metrics = next(iter(columns.values()), {})
    for metric in metrics:
        cells = "".join(f"  {values.get(metric, float('nan')):>16.3f}" for values in columns.values())
        print(f"{METRIC_TITLES.get(metric, metric):<{width}}{cells}")
    if best:
        print("(* the baseline to beat)")


def _print_rules(columns: Mapping[str, Mapping[str, Any]]) -> None:
    """Answers passing the task rules, per column: all of them first, then each rule."""
    from tuneui.core.rules import pass_rate

    first = next(iter(columns.values()))
    names = list(first["by_rule"])
    width = max(len("all rules"), *(len(n) for n in names))
    print(f"Task rules on {first['total']} answers (an answer passes when it passes every rule):")
    print(" " * width + "".join(f"  {name:>16}" for name in columns))
    print(f"{'all rules':<{width}}" + "".join(f"  {pass_rate(s):>16}" for s in columns.values()))
    for name in names:
        cells = "".join(f"  {pass_rate({'passed': s['by_rule'][name], 'total': s['total']}):>16}" for s in columns.values())
        print(f"{name:<{width}}{cells}")


def _progress(message: str) -> None:
    # The guide reads these lines from the child's stderr (tuneui.guide.progress): one prefix for all.
    print(f"progress: {message}", file=sys.stderr, flush=True)
