"""Each check says what is wrong, on which line, once per affected example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneui.core import tokens
from tuneui.core.dataset import CODES, check, find_leakage, load

from .conftest import chat, many_chats


def codes_at(findings) -> list[tuple[int | None, str]]:
    return [(item.line, item.code) for item in findings]


@pytest.mark.parametrize(
    ("bad_line", "code"),
    [
        ('{"messages": [{"role": "user", "content": "cut off', "invalid_json"),
        ("[1, 2, 3]", "data_type"),
        ({"messages": [{"role": "user", "content": 42}, {"role": "assistant", "content": "x"}]}, "data_type"),
        ({"messages": "text instead of a list"}, "missing_messages_list"),
        ({"prompt_only": "no messages here"}, "missing_messages_list"),
        ({"messages": [{"content": "who?"}, {"role": "assistant", "content": "me"}]}, "message_missing_key"),
        ({"messages": [{"role": "user", "content": "q", "mood": "sad"}, {"role": "assistant", "content": "a"}]}, "message_unrecognized_key"),
        ({"messages": [{"role": "bot", "content": "q"}, {"role": "assistant", "content": "a"}]}, "unrecognized_role"),
        ({"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "a"}]}, "missing_content"),
        ({"messages": [{"role": "user", "content": "   "}, {"role": "assistant", "content": "a"}]}, "missing_content"),
        ({"messages": [{"role": "user", "content": "q"}]}, "example_missing_assistant_message"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "weight": 2}]}, "data_type"),
        # Two-key messages that look usual but are not: the quick path for usual examples must let
        # each through to the checks that name it.
        ({"messages": [{"role": ["user"], "content": "q"}, {"role": "assistant", "content": "a"}]}, "unrecognized_role"),
        ({"messages": [{"role": "system", "content": ""}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}, "missing_content"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": "42"}, {"role": "assistant", "content": "a"}]}, "message_missing_key"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "again"}]}, "example_missing_assistant_message"),
    ],
)
def test_each_error_is_reported_on_its_line(write_jsonl, bad_line, code) -> None:
    path = write_jsonl([*many_chats(11)[:2], bad_line, *many_chats(11)[2:]])
    result = load(path)
    assert codes_at(result.errors) == [(3, code)]
    assert len(result.examples) == 11
    finding = result.errors[0]
    assert finding.message and finding.hint == CODES[code][1]


def test_non_utf8_bytes_are_an_encoding_error_on_their_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    good = json.dumps(chat("a", "b")).encode()
    path.write_bytes(good + b"\n" + json.dumps(chat("caf\u00e9", "b")).encode("latin-1").replace(b"\\u00e9", b"\xe9") + b"\n")
    result = load(path)
    assert codes_at(result.errors) == [(2, "invalid_encoding")]
    assert "0xe9" in result.errors[0].message


def test_one_finding_per_example_even_with_several_bad_messages(write_jsonl) -> None:
    record = {"messages": [{"role": "bot", "content": "a"}, {"role": "robot", "content": "b"}, {"role": "assistant", "content": "c"}]}
    result = load(write_jsonl([record]))
    assert [f.code for f in result.errors] == ["unrecognized_role"]


def test_empty_file_has_no_examples(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    result = load(path)
    assert codes_at(result.errors) == [(None, "no_examples")]


def test_binary_file_is_refused_once_not_per_line(tmp_path: Path) -> None:
    path = tmp_path / "sheet.jsonl"
    path.write_bytes(b"PK\x03\x04\x00\x00binary\nmore\x00\x00\n" * 50)
    result = load(path)
    assert codes_at(result.errors) == [(1, "invalid_encoding")] and "binary" in result.errors[0].message


def test_json_array_in_a_jsonl_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "array.jsonl"
    path.write_text(json.dumps(many_chats(3), indent=1))
    result = load(path)
    assert codes_at(result.errors) == [(1, "data_type")] and ".json" in result.errors[0].hint


def test_truncated_json_array_cites_the_line_it_stops(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    text = json.dumps(many_chats(12), indent=2)
    path.write_text(text[: len(text) // 2])
    result = load(path)
    assert [f.code for f in result.errors] == ["invalid_json"]
    assert result.errors[0].line == text[: len(text) // 2].count("\n") + 1
    assert len(result.examples) >= 4


def test_warnings_for_duplicates_contradictions_and_missing_parts(write_jsonl) -> None:
    records = many_chats(12) + [
        chat("Question number 3 about topic 21?", "Answer 3, explained in words."),  # line 13: duplicate of line 4
        chat("question NUMBER 5 about topic 35", "A different answer."),  # line 14: contradiction with line 6
        chat("No system here", "Fine.", system=None),  # line 15
        {"messages": [{"role": "system", "content": "You are terse."}, {"role": "assistant", "content": "Hi!"}]},  # 16
        chat("Say nothing", " "),  # line 17
    ]
    result = load(write_jsonl(records))
    found = codes_at(result.warnings)
    assert (13, "duplicate") in found and "line 4" in result.warnings[found.index((13, "duplicate"))].message
    assert (14, "contradiction") in found and "line 6" in result.warnings[found.index((14, "contradiction"))].message
    assert (15, "missing_system") in found and (16, "missing_user") in found and (17, "empty_answer") in found
    assert not result.errors


def test_minority_system_prompt_is_inconsistent(write_jsonl) -> None:
    records = many_chats(12) + [chat("Other question", "Other answer", system="You are verbose.")]
    result = load(write_jsonl(records))
    assert codes_at(result.warnings) == [(13, "inconsistent_system")]
    assert "12 of 13" in result.warnings[0].message


def test_too_few_examples_is_a_whole_file_warning(write_jsonl) -> None:
    result = load(write_jsonl(many_chats(4)))
    assert codes_at(result.warnings) == [(None, "too_few_examples")]


def test_tokens_match_the_token_module_and_long_examples_are_flagged(write_jsonl) -> None:
    records = many_chats(25) + [chat("Tell me everything. " * 400, "All of it. " * 400)]
    path = write_jsonl(records)
    report = check(path, token_limit=2000)
    expected = tokens.count_examples([r["messages"] for r in records], "o200k_base")
    assert list(report.per_example) == expected and report.total_tokens == sum(expected)
    found = codes_at(report.warnings)
    assert (26, "too_long") in found and (26, "length_outlier") in found
    assert report.encoding == "o200k_base"


def test_model_chooses_encoding_and_the_openai_limit(write_jsonl) -> None:
    report = check(write_jsonl(many_chats(10)), model="gpt-3.5-turbo")
    assert report.encoding == "cl100k_base"


def test_megabyte_lines_are_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    huge = json.dumps(chat("word " * 300_000, "ok"))
    path.write_text("\n".join([json.dumps(r) for r in many_chats(10)] + [huge, huge[:-5]]) + "\n")
    report = check(path)
    assert codes_at(report.errors) == [(12, "invalid_json")]
    assert (11, "too_long") in codes_at(report.warnings)


def test_leakage_between_split_files(write_jsonl) -> None:
    train = load(write_jsonl(many_chats(12), name="train.jsonl")).examples
    val_records = [chat("Something new", "New answer."), many_chats(12)[7]]
    val_path = write_jsonl(val_records, name="val.jsonl")
    leaks = find_leakage(load(val_path).examples, train, "train.jsonl")
    assert codes_at(leaks) == [(2, "leakage")] and "line 8" in leaks[0].message
    report = check(val_path, partner=val_path.parent / "train.jsonl")
    assert (2, "leakage") in codes_at(report.warnings)


def test_check_never_modifies_its_input(write_jsonl) -> None:
    path = write_jsonl([*many_chats(5), '{"broken'])
    before = path.read_bytes()
    check(path)
    assert path.read_bytes() == before


def test_a_broken_first_line_does_not_hide_the_rest_of_a_jsonl_file(write_jsonl) -> None:
    path = write_jsonl(['{"messages": [', *many_chats(10), '{"messages": 3}'])
    result = load(path)
    assert codes_at(result.errors) == [(1, "invalid_json"), (12, "missing_messages_list")]
    assert len(result.examples) == 10


def test_duplicates_are_found_whatever_extra_keys_the_messages_carry(write_jsonl) -> None:
    plain = chat("Where is my parcel?", "On its way.")
    weighted = chat("where is my parcel", "On its way.")
    weighted["messages"][2]["weight"] = 1
    named = chat("Where is my parcel?!", "Lost.")
    named["messages"][1]["name"] = "customer"
    result = load(write_jsonl([*many_chats(10), plain, weighted, named]))
    assert codes_at(result.warnings) == [(12, "duplicate"), (13, "contradiction")]


def test_a_check_leaves_the_cycle_collector_as_it_found_it(write_jsonl, monkeypatch) -> None:
    import gc

    from tuneui.core.dataset import checks

    path = write_jsonl(many_chats(20))
    assert gc.isenabled()
    check(path)
    assert gc.isenabled()
    gc.disable()
    try:
        check(path)
        assert not gc.isenabled()  # not switched on behind the caller's back
    finally:
        gc.enable()

    def fail(*args: object) -> None:
        assert not gc.isenabled()  # paused while the file is read
        raise RuntimeError("disk gone")

    monkeypatch.setattr(checks._Counting, "add", fail)
    with pytest.raises(RuntimeError):
        check(path)
    assert gc.isenabled()


def test_examples_built_the_quick_way_equal_the_usual_ones() -> None:
    import dataclasses

    from tuneui.core.dataset.model import Example

    messages = ({"role": "user", "content": "q"}, {"role": "assistant", "content": "a"})
    quick = Example.of_messages(messages, 7, 3)
    assert quick == Example(messages=messages, line=7, index=3) and quick.extra == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.line = 8  # type: ignore[misc]
