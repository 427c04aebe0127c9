"""Token counts: the cookbook's convention, exact, offline, and the local model's own template."""

from __future__ import annotations

import hashlib
import os

import pytest

from tuneui.core import tokens
from tuneui.errors import TuneError

CHATS = [
    [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
    ],
    [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Say hi to Ann.", "name": "bob"},
        {"role": "assistant", "content": "Hi, Ann! 👋 Ça va? 日本語も話せます。\n\n  Indented\tline"},
    ],
    [{"role": "user", "content": ""}, {"role": "assistant", "content": "<|endoftext|> is only text here"}],
]


def cookbook_count(encoding, messages):
    """The OpenAI cookbook's num_tokens_from_messages (special-token text counted as plain text)."""
    num_tokens = 0
    for message in messages:
        num_tokens += 3
        for key, value in message.items():
            num_tokens += len(encoding.encode(value, disallowed_special=()))
            if key == "name":
                num_tokens += 1
    num_tokens += 3
    return num_tokens


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_counts_match_the_cookbook(name):
    encoding = tokens.get_encoding(name)
    assert tokens.count_examples(CHATS, name) == [cookbook_count(encoding, chat) for chat in CHATS]


def test_hand_computed_count():
    # system(1) + "You are helpful."(4) and user(1) + "Hi"(1) + name "bob"(1) + name bonus(1);
    # 3 per message and 3 for the reply: 3+1+4 + 3+1+1+1+1 + 3 = 18.
    chat = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Hi", "name": "bob"}]
    assert tokens.count_examples([chat]) == [18]
    assert tokens.count_examples([[]]) == [3]
    assert tokens.count_examples([]) == []


def test_repeated_strings_are_counted_every_time():
    single = tokens.count_examples([CHATS[0]])[0]
    assert tokens.count_examples([CHATS[0]] * 50) == [single] * 50


def test_weight_is_metadata_and_tool_calls_count_as_json():
    plain = [{"role": "assistant", "content": "ok"}]
    weighted = [{"role": "assistant", "content": "ok", "weight": 0}]
    assert tokens.count_examples([plain]) == tokens.count_examples([weighted])
    call = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    with_call = [{"role": "assistant", "content": None, "tool_calls": call}]
    json_text = '[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]'
    assert tokens.count_examples([with_call]) == [3 + 1 + tokens.count_texts([json_text])[0] + 3]


def test_content_parts_count_their_text():
    parts = [{"role": "user", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "world"}]}]
    assert tokens.count_examples([parts]) == tokens.count_examples([[{"role": "user", "content": "Hello world"}]])


@pytest.mark.parametrize(
    "model, encoding",
    [
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("o1", "o200k_base"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("meta-llama/Llama-3.2-1B", "o200k_base"),
    ],
)
def test_encoding_for_model(model, encoding):
    assert tokens.encoding_for_model(model) == encoding


def test_unknown_encoding_is_a_clear_error():
    with pytest.raises(TuneError, match="Unknown token encoding 'p50k_base'") as caught:
        tokens.get_encoding("p50k_base")
    assert "o200k_base" in caught.value.hint


def test_cache_is_seeded_from_the_wheel_and_repaired(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEUI_CACHE_DIR", str(tmp_path))
    url, sha256 = tokens._ENCODING_FILES["cl100k_base"]
    cached = tmp_path / "tiktoken" / hashlib.sha1(url.encode()).hexdigest()
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"corrupt")
    tokens._load_encoding.cache_clear()
    try:
        assert len(tokens.get_encoding("cl100k_base").encode_ordinary("hello world")) == 2
    finally:
        tokens._load_encoding.cache_clear()
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == sha256
    assert "TIKTOKEN_CACHE_DIR" not in os.environ or os.environ["TIKTOKEN_CACHE_DIR"] != str(cached.parent)


def test_missing_wheel_files_are_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEUI_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tokens.importlib.util, "find_spec", lambda name: None)
    tokens._load_encoding.cache_clear()
    try:
        with pytest.raises(TuneError, match="not available offline") as caught:
            tokens.get_encoding("o200k_base")
    finally:
        tokens._load_encoding.cache_clear()
    assert "bpe-openai" in caught.value.hint


def _tiny_chat_tokenizer(template: str | None):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<unk>", "<|user|>", "<|assistant|>", "<|system|>", "hello", "there", "hi"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>")
    tokenizer.chat_template = template
    return tokenizer


@pytest.mark.integration
def test_local_model_counts_use_its_chat_template():
    template = "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
    tokenizer = _tiny_chat_tokenizer(template)
    chats = [
        [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "hi"}],
        [{"role": "system", "content": "hi"}, {"role": "user", "content": "hello"}],
    ]
    # <|user|> hello there <|assistant|> hi = 5; <|system|> hi <|user|> hello = 4
    assert tokens.count_with_tokenizer(tokenizer, chats) == [5, 4]


@pytest.mark.integration
def test_local_model_without_template_is_a_clear_error():
    with pytest.raises(TuneError, match="no chat template"):
        tokens.count_with_tokenizer(_tiny_chat_tokenizer(None), [[{"role": "user", "content": "hi"}]])


def test_fast_counter_agrees_with_tiktoken_on_awkward_text():
    import random

    rng = random.Random(7)
    alphabet = list(" \n\t\r  aZ'09.,!?-_/\\\"`~@#$%^&*()[]{}<>|") + ["'s", "'LL", "’", "é", "ß", "日", "😀", "👋🏽", "\u200b", "\u0301", "١٢٣", "한"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(1500)]
    for name in tokens.ENCODINGS:
        encoding = tokens.get_encoding(name)
        assert tokens.encoded_lengths(name, texts) == [len(encoding.encode_ordinary(t)) for t in texts]


def test_counts_without_the_native_counter_are_the_same(monkeypatch):
    expected = tokens.count_examples(CHATS)
    monkeypatch.setattr(tokens, "_rust_counter", lambda encoding: None)
    assert tokens.count_examples(CHATS) == expected


def test_lone_surrogates_from_json_escapes_are_counted():
    import json

    text = json.loads('"broken \\ud800 pair"')
    expected = 3 + 1 + len(tokens.get_encoding("o200k_base").encode_ordinary(text)) + 3  # message, "user", text, reply
    assert tokens.count_examples([[{"role": "user", "content": text}], [{"role": "user", "content": "ok"}]])[0] == expected
