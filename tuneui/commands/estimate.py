"""`tuneui estimate`: what training costs on a backend, or on every configured backend side by side.

The side-by-side comparison on the project's own split is the Cost step: it is saved to
`reports/cost.json` (`tuneui.steps.cost`).

Hosted backends: exact token counts × epochs × the dated price table. Local: memory, fit, hours
and dollars from the model's config.json and the GPU nvidia-smi reports.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from tuneui.commands import MAX_EPOCHS
from tuneui.core.providers import backend_names
from tuneui.errors import TuneError, UsageError

LOCAL_DEFAULT_EPOCHS = 3  # the local backend's default (backends/local/recipe.py)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("estimate", help="what training costs, before anything starts: dollars, GPU memory, hours")
    parser.add_argument("file", nargs="?", type=Path, metavar="FILE", help="training examples (default: the project's data/train.jsonl)")
    parser.add_argument("--val", type=Path, metavar="FILE", help="validation examples, for the evaluation cost (default: data/val.jsonl with data/train.jsonl)")
    parser.add_argument("--backend", help=f"one of {', '.join(backend_names())} (default: every configured backend)")
    parser.add_argument("--model", help="the base model (default: tuneui.toml [models])")
    parser.add_argument("--epochs", type=int, help="epochs (default: the provider's rule; 3 locally)")
    parser.add_argument("--method", choices=("qlora", "lora"), help="local only: force QLoRA or bf16 LoRA")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the documented contract)")
    parser.set_defaults(func=_cmd_estimate)


def _cmd_estimate(args: argparse.Namespace) -> int:
    from tuneui.core.providers import here, provider
    from tuneui.core.settings import Settings
    from tuneui.core.workspace import find_workspace

    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs {args.epochs}: train for at least 1 epoch", "Pass --epochs 1 or more, or leave it out for the default.")
    if args.epochs is not None and args.epochs > MAX_EPOCHS:
        raise UsageError(f"--epochs {args.epochs}: at most {MAX_EPOCHS:,} epochs", "Pass a smaller count, or leave it out for the default.")
    workspace = find_workspace(args.project)
    # A FILE can be estimated anywhere; without one, the project's split is meant, so the
    # project must exist (settings() says so, naming the folder).
    settings = workspace.settings() if workspace.exists() or args.file is None else Settings()
    train_path = args.file or workspace.train_file
    if not train_path.exists():
        raise UsageError(
            f"No training file at {train_path}",
            "Run `tuneui data split` to write data/train.jsonl, or pass the FILE to estimate.",
        )
    # The project's own split brings its validation half along, however the train file was named.
    is_project_split = args.file is None or args.file.resolve() == workspace.train_file.resolve()
    val_path = args.val or (workspace.val_file if is_project_split and workspace.val_file.is_file() else None)
    train = messages_of(train_path)
    val = messages_of(val_path) if val_path else None

    if args.backend or args.model:
        backend = args.backend or _backend_of(args.model, settings)
        if args.method and not provider(backend).can("trains_here"):
            raise UsageError(f"--method applies to the {here().name} backend only", f"Drop --method, or add --backend {here().name}.")
        result = _estimate(backend, args.model, train, val, args, settings, workspace.root)
        _print_one(result, args.json)
        return 0
    rows = []
    for backend, model in _configured(settings):
        try:
            rows.append(_estimate(backend, model, train, val, args, settings, workspace.root))
        except TuneError as exc:
            rows.append({"backend": backend, "model": model, "error": exc.title, "hint": exc.hint})
    if is_project_split and workspace.exists():
        from tuneui.steps.cost import save_cost_report

        save_cost_report(workspace, rows)  # the Cost step's record, the same with or without the guide
    if args.json:
        from tuneui.commands import print_json

        print_json({"file": str(train_path), "estimates": rows})
    else:
        _print_table(rows, train_path)
    return 0


def _estimate(
    backend: str, model: str | None, train: Sequence[Sequence[Mapping[str, Any]]],
    val: Sequence[Sequence[Mapping[str, Any]]] | None, args: argparse.Namespace, settings: Any, project: Path,
) -> dict[str, Any]:  # fmt: skip
    from tuneui.core.providers import choose, provider, today

    backend, model = choose(settings.models, backend, model)
    declared = provider(backend)
    if not declared.accepts_jobs(today()):
        raise refusal_of_closed(declared, model, train, settings, args.epochs)
    if declared.can("trains_here"):
        return _estimate_local(model, train, val, args, settings, project)
    return _estimate_hosted(backend, model, train, val, args, settings)


def refusal_of_closed(declared: Any, model: str, train: Any, settings: Any, epochs: int | None) -> TuneError:
    """The error for a provider that takes no new jobs: it is unavailable, and the providers that
    still train `model`'s family are named with what the same data would cost there."""
    from tuneui.core.providers import here, providers, still_training, today

    others = []
    for other in still_training(model, declared.name, today()):
        try:
            row = _estimate_hosted(other.name, model, train, None, argparse.Namespace(epochs=epochs), settings)
        except TuneError as exc:
            others.append(f"{other.name} ({other.title}): {exc.title}")
            continue
        cost = row.get("cost_usd")
        bill = f"{_usd(cost)} (prices as of {row['price_as_of']})" if cost is not None else "no price in tuneui's table"
        who = "" if other.new_customers else ", for existing customers only"
        others.append(f"{other.name} ({other.title}{who}): {row['billed_tokens']:,} billed tokens, {bill}")
    where = "; ".join(others) if others else f"no other provider trains {model}'s family"
    open_now = [item.name for item in providers() if item.hosted and item.new_customers and item.accepts_jobs(today()) and item.name != declared.name]
    elsewhere = f"on {' or '.join(open_now)}, or " if open_now else ""
    return TuneError(
        f"{declared.title} is unavailable: it takes no new fine-tuning jobs since {declared.no_new_jobs}",
        f"Still training {model}'s family: {where}. Or train an open model {elsewhere}here with --backend {here().name}.",
    )


def _estimate_hosted(backend: str, model: str, train: Any, val: Any, args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    from tuneui.core.providers import today
    from tuneui.core.cost import EvalTokens, hosted_estimate, load_prices
    from tuneui.core.tokens import count_examples, count_texts, encoding_for_model

    if not model:
        raise UsageError(f"No {backend} model chosen", "Pass --model, or set [models] hosted in tuneui.toml.")
    prices = load_prices(settings.prices)
    encoding = encoding_for_model(prices.canonical(model))
    validation = None
    if val:
        validation = EvalTokens(
            examples=len(val),
            prompt_tokens=sum(count_examples([_prompt_of(messages) for messages in val], encoding)),
            answer_tokens=sum(count_texts([_answer_of(messages) for messages in val], encoding)),
        )
    estimate = hosted_estimate(
        backend, model, count_examples(train, encoding), epochs=args.epochs, validation=validation,
        judge=settings.models.judge or None, prices=prices, today=today(),
    )  # fmt: skip
    return estimate.to_json()


def _estimate_local(model: str, train: Any, val: Any, args: argparse.Namespace, settings: Any, project: Path) -> dict[str, Any]:
    from tuneui.core.cost import find_model_config, local_estimate
    from tuneui.core.gpu import find_gpus

    if not model:
        raise UsageError("No local model chosen", "Pass --model (a Hugging Face id or a model folder), or set [models] local in tuneui.toml.")
    from backends.local.config import plan_local_run

    config = find_model_config(model, project)
    counts, exact = _local_token_counts(model, project, train)
    gpus = find_gpus()
    gpu = min(gpus, key=lambda g: g.memory_gib) if gpus else None
    local = settings.local
    # The plan `tuneui train` would follow: the same rule, so the Cost step shows what will run.
    val_counts = _local_token_counts(model, project, val)[0] if val else []  # the validation passes cost time too
    plan = plan_local_run(model, config, counts, local, gpu, val_counts, epochs=args.epochs)
    estimate = local_estimate(
        config, model=model, train_tokens=counts, epochs=args.epochs or LOCAL_DEFAULT_EPOCHS,
        batch_size=plan.batch_size, max_length=plan.max_length, lora_rank=plan.lora_r,
        lora_dropout=local.lora_dropout, gpu=gpu, method=args.method, mfu=local.measured_mfu,
        gpu_hour_usd=local.gpu_hour_usd, steps=plan.steps,
    )  # fmt: skip
    result = estimate.to_json()
    result["advice"].append(
        f"Plan: {plan.steps} steps ({plan.epochs:.2g} epochs), learning rate {plan.learning_rate:.2g}, "
        f"LoRA r {plan.lora_r} alpha {plan.lora_alpha}, max length {plan.max_length}; " + "; ".join(plan.reasons) + "."
    )
    if not exact:
        result["advice"].append("Token counts use o200k_base: the model's own tokenizer is not on this machine.")
    return result


def _local_token_counts(model: str, project: Path, train: Any) -> tuple[list[int], bool]:
    """The model's own chat-template counts when its tokenizer is on disk, else o200k counts."""
    from tuneui.core.tokens import count_examples, count_with_tokenizer

    folder = next((p for p in (Path(model).expanduser(), project / model) if (p / "tokenizer.json").is_file()), None)
    if folder is not None:
        try:
            # The fast tokenizer class directly: AutoTokenizer imports torch, which takes seconds.
            from transformers import PreTrainedTokenizerFast

            tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder))
            return count_with_tokenizer(tokenizer, train), True
        except (ImportError, OSError, ValueError, TuneError):
            pass  # no transformers, or a tokenizer it cannot load: fall back to o200k counts
    return count_examples(train), False


def messages_of(path: Path) -> list[list[Mapping[str, Any]]]:
    from tuneui.core.dataset import load

    result = load(path)
    if result.errors:
        first = result.errors[0]
        where = f"{path}:{first.line}" if first.line else str(path)
        raise TuneError(f"{where}: {first.message}", f"{first.hint} (`tuneui data check {path}` lists every problem)", exit_code=1)
    if not result.examples:
        raise TuneError(f"{path} holds no examples", "Add examples, or point FILE at your data.", exit_code=1)
    return [list(example.messages) for example in result.examples]


def _prompt_of(messages: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=len(messages))
    return list(messages[:last])


def _answer_of(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "assistant":
            content = message.get("content")
            return content if isinstance(content, str) else ""
    return ""


def _backend_of(model: str, settings: Any) -> str:
    from tuneui.core.providers import here, providers
    from tuneui.core.cost import load_prices

    price = load_prices(settings.prices).find(model)
    if price is not None and price.provider:
        return price.provider
    for declared in providers():
        if model.lower().startswith(declared.model_prefixes):
            return declared.name  # a model the table lacks: say so, rather than look for its config.json
    return here().name


def _configured(settings: Any) -> list[tuple[str, str]]:
    from tuneui.core.providers import here, hosted_choice

    from tuneui.steps.candidates import configured_candidates

    rows = [(here().name, settings.models.local)] if settings.models.local else []
    rows.append(hosted_choice(settings.models.hosted_backend, settings.models.hosted))
    # Each base-model candidate is priced too, so the comparison weighs what each one costs.
    return rows + [pair for pair in configured_candidates(settings.models) if pair not in rows]


def _print_one(result: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        from tuneui.commands import print_json

        print_json(dict(result))
        return
    _print_table([result], None)


def _print_table(rows: Sequence[Mapping[str, Any]], train_path: Path | None) -> None:
    out = sys.stdout
    if train_path is not None:
        out.write(f"Estimates for {train_path}\n")
    for row in rows:
        out.write(f"\n{row.get('backend')}  {row.get('model') or ''}\n")
        if "error" in row:
            out.write(f"  cannot estimate: {row['error']}\n  hint: {row.get('hint', '')}\n")
            continue
        if "memory_gib" in row:  # trained here: memory and time, not a bill
            memory = row["memory_gib"]
            gpu = row.get("gpu")
            out.write(f"  method: {row['method']}, {'GPU memory' if gpu else 'RAM'}: {memory['total']:.1f} GiB")
            out.write(f" (weights {memory['weights']:.1f}, adapters+optimizer {memory['adapters_and_optimizer']:.1f}, ")
            out.write(f"activations {memory['activations']:.1f}, logits {memory['logits']:.1f}, overhead {memory['overhead']:.1f})\n")
            out.write(f"  GPU: {gpu['name']}, {gpu['memory_gib']:.1f} GiB\n" if gpu else "  GPU: none found\n")
            if row.get("hours") is not None:
                hours = row["hours"]
                out.write(f"  time: {hours:.2f} h\n" if hours >= 1 else f"  time: {hours * 60:.1f} min\n")
            notes = row.get("advice") or []
        else:
            out.write(f"  {row['examples']} examples × {row['epochs']} epochs = {row['billed_tokens']:,} billed tokens\n")
            if row.get("price_per_million") is not None:
                out.write(f"  at ${row['price_per_million']:.2f}/1M tokens (prices as of {row['price_as_of']})\n")
            notes = row.get("warnings") or []
        if row.get("cost_usd") is not None:
            out.write(f"  cost: {_usd(row['cost_usd'])}\n")
        if row.get("eval_cost_usd") is not None:
            out.write(f"  evaluation on the validation split: {_usd(row['eval_cost_usd'])}\n")
        for note in notes:
            out.write(f"  - {note}\n")


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"
