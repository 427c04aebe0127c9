"""`tuneui export RUN [--format merged,gguf] [--force] [--json] [--ollama-create]`: the tuned model as files
Ollama, llama.cpp, vLLM and transformers load, with the checks that it still answers as it did."""

from __future__ import annotations

import argparse
import sys

from tuneui.commands import print_json, workspace_of


def register(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser("export", help="write a run's tuned model for Ollama, llama.cpp, vLLM and transformers, and check it")
    export.add_argument("run", metavar="RUN", help="the run to export (`tuneui runs` lists them)")
    export.add_argument(
        "--format", default="merged,gguf", metavar="LIST",
        help="what to write, comma-separated: merged (safetensors), gguf (f16, q8_0, q4_k_m where llama-quantize is installed, and the Modelfile); default: both",
    )  # fmt: skip
    export.add_argument("--force", action="store_true", help="replace an existing exports/RUN/ (only once the new export is complete)")
    export.add_argument("--ollama-create", action="store_true", help="then run `ollama create` on the export's Modelfile (ollama must be on PATH)")
    export.add_argument("--json", action="store_true", help="print one JSON object: the files, the checks and the commands")
    export.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from tuneui.errors import UsageError
    from tuneui.steps.export.build import FORMATS, export_dir, export_run, ollama_create

    formats = tuple(part.strip() for part in args.format.split(",") if part.strip())
    unknown = [part for part in formats if part not in FORMATS]
    if unknown or not formats:
        raise UsageError(f"--format {args.format!r}: unknown format {unknown[0] if unknown else '(none)'}", f"Choose from {', '.join(FORMATS)}.")
    if "gguf" in formats and "merged" not in formats:
        formats = ("merged", *formats)  # the GGUF is converted from the merged model
    workspace = workspace_of(args)
    if args.ollama_create and export_dir(workspace, args.run).is_dir() and not args.force:
        result = None
    else:
        result = export_run(workspace, args.run, formats, force=args.force, progress=_progress)
    if args.ollama_create:
        done = ollama_create(workspace, args.run)
        if done.returncode != 0:
            raise UsageError(f"ollama create failed: {(done.stderr or done.stdout).strip()[-300:]}", "Read Ollama's message above; the export itself is complete.")
        print("ollama create: done", file=sys.stderr)
    if result is None:
        return 0
    if args.json:
        print_json(result)
    else:
        _print_summary(result)
    return 0 if result["ok"] else 1


def _progress(text: str) -> None:
    print(f"export: {text}", file=sys.stderr, flush=True)


def _print_summary(result: dict) -> None:
    from tuneui.core.visible import visible
    from tuneui.steps.export.checks import CHECK_NAMES, describe

    print(f"Exported run {result['run_id']} to {visible(result['folder'])}: {', '.join(result['files'])}")
    for name, check in (result.get("checks") or {}).items():
        print(f"  check {'passed' if check['ok'] else 'FAILED'}: {CHECK_NAMES.get(name, name)}: {visible(describe(name, check))}")
    for name, command in (result.get("commands") or {}).items():
        lines = command.splitlines()
        print(f"  {name}: {visible(lines[0]) if len(lines) == 1 else ''}")
        if len(lines) > 1:
            print("\n".join(f"      {visible(line)}" for line in lines))
    if result.get("hosted"):
        print(f"  hosted model: {visible(result['hosted']['model_id'])}")
        print("\n".join(f"      {visible(line)}" for line in result["hosted"]["python"].splitlines()))
    for note in result.get("notes") or []:
        print(f"  note: {note}")
