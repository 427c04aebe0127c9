"""`--model` with a local model counts through its own tokenizer and chat template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneui.cli import main

from .conftest import chat, many_chats

pytestmark = pytest.mark.integration  # local servers, child processes or torch

TEMPLATE = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|im_start|>", "<|im_end|>"], show_progress=False)
    bpe.train_from_iterator(["Question number about topic", "Answer explained in words"], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>")
    tokenizer.chat_template = TEMPLATE
    folder = tmp_path_factory.mktemp("tok")
    tokenizer.save_pretrained(folder)
    return folder


def test_local_model_counts_with_its_template_against_max_length(capsys, workspace, write_jsonl, tokenizer_dir) -> None:
    from transformers import AutoTokenizer

    settings = workspace.settings()
    settings.local.max_length = 120
    workspace.save_settings(settings)
    records = many_chats(12) + [chat("Question " * 60, "Answer")]
    path = write_jsonl(records)
    code = main(["--project", str(workspace.root), "data", "check", str(path), "--model", str(tokenizer_dir), "--json"])
    report = json.loads(capsys.readouterr().out)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    expected = [len(tokenizer.apply_chat_template(r["messages"], tokenize=True)["input_ids"]) for r in records]
    assert code == 0 and report["tokens"]["encoding"] == str(tokenizer_dir)
    assert report["tokens"]["per_example"] == expected
    assert [w["line"] for w in report["warnings"] if w["code"] == "too_long"] == [13]


def test_unknown_local_model_exits_2_with_a_hint(capsys, write_jsonl, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    code = main(["data", "check", str(write_jsonl(many_chats(10))), "--model", str(tmp_path / "no-such-model")])
    err = capsys.readouterr().err
    assert code == 2 and "Cannot load the tokenizer" in err and "Traceback" not in err


def test_a_local_model_with_a_broken_tokenizer_file_exits_2_with_a_hint(capsys, write_jsonl, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    folder = tmp_path / "broken-model"
    folder.mkdir()
    # Valid JSON that tokenizers cannot build a tokenizer from: it raised a KeyError, shown as a tuneui bug.
    (folder / "tokenizer.json").write_text('{"version": "1.0", "model": {"type": "BPE", "vocab": 5}}')
    (folder / "tokenizer_config.json").write_text('{"tokenizer_class": "PreTrainedTokenizerFast"}')
    code = main(["data", "check", str(write_jsonl(many_chats(10))), "--model", str(folder)])
    err = capsys.readouterr().err
    assert code == 2 and "Cannot load the tokenizer" in err and "failed unexpectedly" not in err
