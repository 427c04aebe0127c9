"""The training worker reads its chat files with the dataset step's reader: one reader, one wording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneui.core.backend import BackendError
from tuneui.core.dataset import read_chat_jsonl
from tuneui.errors import TuneError
from backends.local.training_data import read_chat_file

GOOD = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Open "}, {"type": "text", "text": "today?"}]}, {"role": "assistant", "content": "Yes, 9-6."}]}
BROKEN_LINES = {
    "not JSON": '{"messages": [}',
    "no answer": json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
    "null content": json.dumps({"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "x"}]}),
}


def _file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("what", sorted(BROKEN_LINES))
def test_a_broken_line_is_refused_in_the_words_of_the_data_check(tmp_path: Path, what: str) -> None:
    path = _file(tmp_path, json.dumps(GOOD), BROKEN_LINES[what])
    with pytest.raises(TuneError) as check:
        read_chat_jsonl(path)
    with pytest.raises(BackendError) as worker:
        read_chat_file(str(path))
    assert worker.value.title == check.value.title and worker.value.title.startswith(f"{path}:2: ")
    assert worker.value.hint == check.value.hint


def test_good_lines_become_trl_records_with_text_content(tmp_path: Path) -> None:
    path = _file(tmp_path, "\ufeff" + json.dumps(GOOD), "", json.dumps(GOOD))
    records = read_chat_file(str(path))
    assert len(records) == 2
    assert records[0]["messages"][1] == {"role": "user", "content": "Open today?"}  # content parts joined for the template
    assert [m["role"] for m in records[0]["messages"]] == ["system", "user", "assistant"]


def test_an_empty_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BackendError) as caught:
        read_chat_file(str(_file(tmp_path)))
    assert "holds no examples" in caught.value.title and "tuneui data split" in caught.value.hint
