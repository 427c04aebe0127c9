"""Every layout reads into the same Example, with the line a person would look at."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneui.core.dataset import load, read_chat_jsonl
from tuneui.errors import TuneError

from .conftest import chat, many_chats


def test_chat_jsonl_keeps_lines_roles_and_extras(write_jsonl) -> None:
    tool_example = {**chat("Weather?", "Sunny."), "tools": [{"type": "function", "function": {"name": "w"}}]}
    path = write_jsonl([chat("Hi", "Hello"), "", tool_example])
    result = load(path)
    assert result.format == "chat" and result.ok
    assert [e.line for e in result.examples] == [1, 3]
    assert result.examples[1].extra["tools"][0]["function"]["name"] == "w"
    assert result.examples[0].answer == "Hello" and result.examples[0].system == "You are terse."


def test_bom_and_crlf_are_read_like_plain_utf8(tmp_path: Path) -> None:
    path = tmp_path / "windows.jsonl"
    lines = [json.dumps(chat("Grüße", "Hallo, schön!"), ensure_ascii=False)] * 2
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n")
    result = load(path)
    assert result.ok and len(result.examples) == 2
    assert result.examples[0].user_text == "Grüße" and result.examples[1].line == 2


def test_prompt_completion_becomes_user_and_assistant(write_jsonl) -> None:
    result = load(write_jsonl([{"prompt": "2+2?", "completion": "4"}]))
    assert result.format == "prompt-completion"
    assert [m["role"] for m in result.examples[0].messages] == ["user", "assistant"]


def test_alpaca_array_cites_the_line_each_element_starts_on(tmp_path: Path) -> None:
    records = [
        {"instruction": "Translate", "input": "chat", "output": "cat"},
        {"instruction": "Say hi", "input": "", "output": "hi", "system": "Be kind.", "history": [["q", "a"]]},
    ]
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps(records, indent=2))
    result = load(path)
    assert result.format == "alpaca" and result.ok
    assert [e.line for e in result.examples] == [2, 7]
    assert result.examples[0].user_text == "Translate\n\nchat"
    assert [m["role"] for m in result.examples[1].messages] == ["system", "user", "assistant", "user", "assistant"]


def test_alpaca_as_jsonl(write_jsonl) -> None:
    result = load(write_jsonl([{"instruction": "a", "output": "b"}] * 3))
    assert result.format == "alpaca" and len(result.examples) == 3


def test_sharegpt_maps_from_to_roles_and_keeps_system(write_jsonl) -> None:
    record = {"system": "Be Vicuna.", "conversations": [{"from": "human", "value": "Who?"}, {"from": "gpt", "value": "Me."}]}
    result = load(write_jsonl([record]))
    assert result.format == "sharegpt"
    assert [m["role"] for m in result.examples[0].messages] == ["system", "user", "assistant"]


def test_csv_with_auto_columns_multiline_cells_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text('question,answer\n"two\nlines",yes\nplain,no\n', encoding="utf-8")
    result = load(path)
    assert result.format == "csv" and result.ok
    assert [e.line for e in result.examples] == [2, 4]
    assert result.examples[0].user_text == "two\nlines"


def test_tsv_with_explicit_mapping_and_system_column(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("q\ta\tsys\nhello\tworld\tBe brief.\n", encoding="utf-8")
    result = load(path, mapping={"prompt": "q", "response": "a", "system": "sys"})
    assert result.examples[0].system == "Be brief." and result.examples[0].answer == "world"


def test_csv_without_recognizable_columns_names_them(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("colA,colB\nx,y\n")
    with pytest.raises(TuneError) as caught:
        load(path)
    assert "colA" in caught.value.title and caught.value.exit_code == 2
    assert "--map" in caught.value.hint


def test_csv_cell_over_a_megabyte_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("prompt,response\n" + "x" * 1_200_000 + ",ok\n")
    result = load(path)
    assert result.ok and len(result.examples[0].user_text) == 1_200_000


@pytest.mark.integration
def test_parquet_and_saved_dataset_folder(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    table = datasets.Dataset.from_dict({"prompt": ["a", "b"], "response": ["x", "y"]})
    table.to_parquet(str(tmp_path / "pairs.parquet"))
    chats = datasets.Dataset.from_list(many_chats(3))
    chats.save_to_disk(str(tmp_path / "saved"))
    from_parquet = load(tmp_path / "pairs.parquet")
    from_folder = load(tmp_path / "saved")
    assert from_parquet.format == "hf" and [e.answer for e in from_parquet.examples] == ["x", "y"]
    assert from_folder.format == "hf" and len(from_folder.examples) == 3 and from_folder.examples[2].line == 3


def test_format_flag_overrides_detection(write_jsonl) -> None:
    path = write_jsonl([{"prompt": "p", "completion": "c", "messages": "not a list"}])
    assert load(path).format == "chat"
    assert load(path, format="prompt-completion").ok


def test_read_chat_jsonl_refuses_a_bad_line_with_its_number(write_jsonl) -> None:
    path = write_jsonl([chat("a", "b"), {"messages": [{"role": "user", "content": "only a question"}]}])
    with pytest.raises(TuneError) as caught:
        read_chat_jsonl(path)
    assert ":2:" in caught.value.title and caught.value.exit_code == 1


def test_real_sharegpt_sample_reads_500_conversations(shared_dir: Path) -> None:
    result = load(shared_dir / "samples" / "sharegpt_identity_500.json")
    assert result.format == "sharegpt" and result.ok and len(result.examples) == 500
    assert result.examples[0].line == 2


def test_real_alpaca_sample_reads_1000_records(shared_dir: Path) -> None:
    result = load(shared_dir / "samples" / "alpaca_cleaned_1000.json")
    assert result.format == "alpaca" and result.ok and len(result.examples) == 1000


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ({"instruction": None, "output": "x"}, "missing_content"),
        ({"instruction": "x", "output": None}, "example_missing_assistant_message"),
        ({"instruction": ["x"], "output": "y"}, "data_type"),
        ({"instruction": "x", "output": "y", "history": "not pairs"}, "data_type"),
        ({"conversations": [{"from": "alien", "value": "x"}]}, "unrecognized_role"),
        ({"conversations": [{"from": "human"}]}, "message_missing_key"),
        ({"conversations": [{"from": "human", "value": "only a question"}]}, "example_missing_assistant_message"),
        ({"conversations": []}, "missing_messages_list"),
        ({"prompt": 3, "completion": "x"}, "data_type"),
    ],
)
def test_other_layouts_report_their_own_field_names(write_jsonl, record, code) -> None:
    good = {"instruction": "a", "output": "b"} if "instruction" in record else (
        {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]} if "conversations" in record
        else {"prompt": "a", "completion": "b"}
    )
    result = load(write_jsonl([good, record]))
    assert [(f.line, f.code) for f in result.errors] == [(2, code)]


def test_flat_json_records_read_by_field_names_or_map(write_jsonl) -> None:
    auto = load(write_jsonl([{"question": "2+2?", "answer": "4", "id": 1}], name="qa.jsonl"))
    assert auto.format == "prompt-completion" and auto.examples[0].user_text == "2+2?" and auto.examples[0].answer == "4"
    mapped = load(write_jsonl([{"q": "Hi", "a": "Hello", "sys": "Be kind."}], name="mapped.jsonl"), mapping={"prompt": "q", "response": "a", "system": "sys"})
    assert mapped.ok and mapped.examples[0].system == "Be kind." and mapped.examples[0].answer == "Hello"


def test_csv_and_json_array_with_bom_and_crlf(tmp_path: Path) -> None:
    table = tmp_path / "excel.csv"
    table.write_bytes(b"\xef\xbb\xbfprompt,response\r\nBonjour,Salut\r\n\"deux\r\nlignes\",oui\r\n")
    rows = load(table)
    assert rows.ok and [e.line for e in rows.examples] == [2, 3] and rows.examples[0].user_text == "Bonjour"
    array = tmp_path / "windows.json"
    text = json.dumps(many_chats(2), indent=1)
    array.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    records = load(array)
    starts = [number for number, line in enumerate(text.split("\n"), 1) if line == " {"]
    assert records.ok and [e.line for e in records.examples] == starts == [2, 18]


def test_tool_calling_conversation_is_a_valid_chat_example(write_jsonl) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
    record = {
        "messages": [
            {"role": "user", "content": "Weather in Oslo?", "name": "ola"},
            {"role": "assistant", "content": None, "tool_calls": [call], "weight": 0},
            {"role": "tool", "tool_call_id": "call_1", "content": "4 degrees, rain"},
            {"role": "assistant", "content": "Rainy, 4 degrees.", "weight": 1},
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
    }
    result = load(write_jsonl([record]))
    assert result.ok and result.examples[0].answer == "Rainy, 4 degrees."
    assert result.examples[0].to_chat() == record


def test_flat_json_record_that_is_not_an_object_is_a_type_error(write_jsonl) -> None:
    result = load(write_jsonl([{"question": "2+2?", "answer": "4"}, '"just text"', ["a", "list"]], name="qa.jsonl"))
    assert [(f.line, f.code) for f in result.errors] == [(2, "data_type"), (3, "data_type")]
