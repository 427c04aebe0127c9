"""`tuneui data import|check|split|stats`: the Dataset step without the UI.

Exit codes (the contract of `check`, kept by every action): 0 no errors (warnings allowed),
1 the data has errors, 2 the command cannot run (usage, missing or unreadable file).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

from tuneui.commands import share
from tuneui.core.workspace import Workspace, find_workspace
from tuneui.errors import UsageError

IMPORTED_NAME = "all.jsonl"  # data/all.jsonl: every imported example, before the split


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="import, check, split and describe your examples")
    actions = data.add_subparsers(dest="data_action", metavar="ACTION", required=True)

    source_help = "the layout (default: detected): chat, prompt-completion, alpaca, sharegpt, csv, tsv, hf"
    map_help = "table columns: prompt=COL,response=COL[,system=COL]"

    imported = actions.add_parser("import", help=f"read a file of examples into data/{IMPORTED_NAME} (the file is not changed)")
    imported.add_argument("src", type=Path, metavar="SRC", help="JSONL, JSON, CSV/TSV, parquet or a Hugging Face dataset folder")
    imported.add_argument("--format", dest="data_format", help=source_help)
    imported.add_argument("--map", dest="mapping", metavar="MAP", help=map_help)
    imported.set_defaults(func=_cmd_import)

    checked = actions.add_parser("check", help="find what is wrong with a dataset, with file:line and a fix")
    checked.add_argument("file", nargs="?", type=Path, metavar="FILE", help=f"default: the project's data/{IMPORTED_NAME}")
    checked.add_argument("--format", dest="data_format", help=source_help)
    checked.add_argument("--map", dest="mapping", metavar="MAP", help=map_help)
    counting = checked.add_mutually_exclusive_group()
    counting.add_argument("--encoding", help="token encoding: o200k_base (default) or cl100k_base")
    counting.add_argument("--model", help="count tokens and check lengths for this model (OpenAI id or local model)")
    checked.add_argument("--json", action="store_true", help="print one JSON object (the documented contract)")
    checked.set_defaults(func=_cmd_check)

    divided = actions.add_parser("split", help="write data/train.jsonl and data/val.jsonl")
    divided.add_argument("--val", type=share, default=None, help="validation share (default: tuneui.toml, 0.15)")
    divided.add_argument("--seed", type=int, default=None, help="seed of the split (default: tuneui.toml, 0)")
    divided.set_defaults(func=_cmd_split)

    described = actions.add_parser("stats", help="counts, token distributions and how many examples to aim for")
    described.add_argument("--json", action="store_true", help="print one JSON object")
    described.set_defaults(func=_cmd_stats)


def _cmd_import(args: argparse.Namespace) -> int:
    from tuneui.core.dataset import parse_mapping
    from tuneui.core.dataset.loader import import_file
    from tuneui.core.dataset.render import findings_text

    workspace = _project(args)
    target = workspace.data_dir / IMPORTED_NAME
    count, result = import_file(args.src, target, args.data_format, parse_mapping(args.mapping))
    source = _shown(args.src)
    if result.errors:
        _print_lines(findings_text(source, result.errors, "errors"), sys.stderr)
        print(f"Nothing was imported: {len(result.errors):,} record(s) of {source} cannot be used. Fix them and import again.", file=sys.stderr)
        return 1
    print(f"Imported {count:,} examples ({result.format}) from {source} into {_shown(target)}.")
    if result.warnings:
        print(f"{len(result.warnings):,} warnings: `tuneui data check` shows them with their lines.")
    stale = workspace.train_file.is_file() or workspace.val_file.is_file()
    print("Next: `tuneui data split`" + (" (the current split predates this import)." if stale else "."))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    import orjson

    from tuneui.core.dataset import check, parse_mapping
    from tuneui.core.dataset.render import check_summary, findings_text

    workspace = find_workspace(args.project)
    file = args.file or _imported_file(workspace)
    report = check(
        file,
        args.data_format,
        parse_mapping(args.mapping),
        encoding=args.encoding,
        model=args.model,
        token_limit=_local_limit(workspace, args.model),
        partner=_split_partner(workspace, file),
    )
    shown = _shown(file)
    if args.json:
        # orjson: the json module's indenting encoder is pure Python, slow on 100,000 token counts.
        sys.stdout.write(orjson.dumps({**report.to_json(), "file": shown}, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        lines = findings_text(shown, report.errors, "errors") + findings_text(shown, report.warnings, "warnings")
        lines.append(check_summary(shown, report.format, report.examples, len(report.errors), len(report.warnings), report.total_tokens, report.encoding))
        _print_lines(lines, sys.stdout)
    return 1 if report.errors else 0


def _cmd_split(args: argparse.Namespace) -> int:
    from tuneui.core.dataset import read_chat_jsonl, split
    from tuneui.core.dataset.split import publish_split

    workspace = _project(args)
    settings = workspace.settings()
    val_fraction = settings.data.val_fraction if args.val is None else args.val
    seed = settings.data.seed if args.seed is None else args.seed
    from tuneui.core.settings import MAX_SEED

    if not 0 <= seed < MAX_SEED:  # the seed goes on to training, whose libraries refuse it only then
        raise UsageError(f"--seed {seed} is out of range", f"Use a whole number from 0 to {MAX_SEED - 1:,}.")
    result = split(read_chat_jsonl(_imported_file(workspace)), val_fraction, seed)
    # train, val and their share (data/current/split.json) switch in one rename; tuneui.toml
    # follows as the default of the next split.
    publish_split(workspace.data_dir, result, val_fraction, seed)
    wanted = {"data.val_fraction": (val_fraction, settings.data.val_fraction), "data.seed": (seed, settings.data.seed)}
    changed = {key: new for key, (new, old) in wanted.items() if new != old}
    if changed:
        workspace.update_settings(changed)  # the split can be made again exactly from tuneui.toml
    how = ", stratified by answer label" if result.stratified else ""
    print(
        f"Split {len(result.train) + len(result.val):,} examples (seed {seed}{how}): "
        f"{len(result.train):,} in {_shown(workspace.train_file)}, {len(result.val):,} in {_shown(workspace.val_file)}."
    )
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from tuneui.core import tokens
    from tuneui.core.dataset import read_chat_jsonl, stats
    from tuneui.core.dataset.render import stats_text
    from tuneui.commands import print_json

    workspace = _project(args)
    from tuneui.core.providers import hosted_choice

    settings = workspace.settings()
    _, hosted = hosted_choice(settings.models.hosted_backend, settings.models.hosted)  # "" = the default of the day
    result = stats(read_chat_jsonl(_imported_file(workspace)), tokens.encoding_for_model(hosted))
    splits = {
        name: sum(1 for _ in read_chat_jsonl(path))
        for name, path in (("train", workspace.train_file), ("val", workspace.val_file))
        if path.is_file()
    }
    if args.json:
        print_json({**result.to_json(), "splits": splits})
    else:
        _print_lines(stats_text(result, splits), sys.stdout)
    return 0


def _project(args: argparse.Namespace) -> Workspace:
    workspace = find_workspace(args.project)
    workspace.settings()  # raises with the fix when this is not a project folder
    return workspace


def _imported_file(workspace: Workspace) -> Path:
    path = workspace.data_dir / IMPORTED_NAME
    if not path.is_file():
        raise UsageError(
            f"No imported data: {path} does not exist",
            "Run `tuneui data import FILE` first, or name a file: `tuneui data check FILE`.",
        )
    return path


def _split_partner(workspace: Workspace, file: Path) -> Path | None:
    """The other split file when `file` is one of the project's splits: their overlap is leakage."""
    # Resolved on both sides: the split's files are links into data/splits/.
    try:
        pairs = {workspace.train_file.resolve(): workspace.val_file, workspace.val_file.resolve(): workspace.train_file}
        partner = pairs.get(file.resolve())
    except (OSError, RuntimeError):  # a symlink loop: reading the file reports it with a hint
        return None
    return partner if partner is not None and partner.is_file() else None


def _local_limit(workspace: Workspace, model: str | None) -> int | None:
    """A local model's per-example limit is the project's max_length (what training truncates to)."""
    from tuneui.core.dataset.checks import is_openai_model
    from tuneui.core.settings import LocalSettings

    if not model or is_openai_model(model):
        return None
    return workspace.settings().local.max_length if workspace.exists() else LocalSettings().max_length


def _shown(path: Path) -> str:
    """A path as text any terminal or JSON takes: a name's bytes that are not UTF-8 (an old archive's
    Latin-1, which Python holds as lone surrogates) are written as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _print_lines(lines: list[str], stream: TextIO) -> None:
    stream.write("".join(line + "\n" for line in lines))
