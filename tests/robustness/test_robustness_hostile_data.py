"""Data files and arguments made to break `tuneui data`: each is reported at its line, never a crash."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tuneui.cli import main
from tuneui.core import tokens
from tuneui.core.dataset.model import Example


def _good(n: int) -> dict:
    return {"messages": [{"role": "user", "content": f"Question {n}?"}, {"role": "assistant", "content": f"Answer {n}."}]}


def _check_json(capsys, path: Path) -> tuple[int, dict]:
    code = main(["data", "check", str(path), "--json"])
    captured = capsys.readouterr()
    assert "failed unexpectedly" not in captured.err
    return code, json.loads(captured.out)


def test_a_non_text_content_part_with_a_number_for_text_adds_no_tokens(tmp_path, capsys):
    odd = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}, "text": 5}, {"type": "text", "text": "Hi?"}]}
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps({"messages": [odd, {"role": "assistant", "content": "Hello."}]}) + "\n")
    status, report = _check_json(capsys, path)
    plain = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]
    assert status == 0 and report["tokens"]["per_example"] == tokens.count_examples([plain])
    # The prompt a baseline sends is the same text.
    assert Example(messages=(odd, plain[1]), line=1, index=0).user_text == "Hi?"


def test_a_number_with_thousands_of_digits_in_a_json_document_is_a_finding_on_its_line(tmp_path, capsys):
    path = tmp_path / "data.json"
    huge = '{"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Yes.", "weight": ' + "9" * 5000 + "}]}"
    path.write_text("[\n" + json.dumps(_good(1)) + ",\n" + huge + ",\n" + json.dumps(_good(3)) + "\n]\n")
    status, report = _check_json(capsys, path)
    assert status == 1
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(3, "invalid_json")]
    assert "digits" in report["errors"][0]["message"] and "set_int_max_str_digits" not in report["errors"][0]["message"]


def _with_lone_surrogate(n: int) -> dict:
    return {"messages": [{"role": "user", "content": f"Question {n} \ud800?"}, {"role": "assistant", "content": "Yes."}]}


@pytest.mark.parametrize("name", ["data.json", "data.jsonl"])
def test_a_lone_surrogate_escape_is_the_same_finding_in_json_and_jsonl(tmp_path, capsys, name):
    records = [_good(1), _with_lone_surrogate(2), _good(3)]
    path = tmp_path / name
    if name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    else:
        path.write_text("[\n" + ",\n".join(json.dumps(record) for record in records) + "\n]\n")
    status, report = _check_json(capsys, path)
    assert status == 1 and report["examples"] == 2
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(3 if name == "data.json" else 2, "invalid_encoding")]
    assert "\\ud800" in report["errors"][0]["message"] and "surrogate" in report["errors"][0]["message"]


def test_importing_a_json_document_with_a_lone_surrogate_refuses_it_at_its_line(workspace, tmp_path, capsys):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([_good(n) for n in range(11)] + [_with_lone_surrogate(12)], indent=1))
    before = path.read_bytes()
    code = main(["--project", str(workspace.root), "data", "import", str(path)])
    err = capsys.readouterr().err
    assert code == 1 and "failed unexpectedly" not in err and "surrogate" in err
    assert not (workspace.data_dir / "all.jsonl").exists() and path.read_bytes() == before


def test_a_lone_surrogate_escape_in_a_utf16_json_document_is_found_too(tmp_path, capsys):
    path = tmp_path / "data.json"
    path.write_bytes(("[\n" + json.dumps(_good(1)) + ",\n" + json.dumps(_with_lone_surrogate(2)) + "\n]\n").encode("utf-16"))
    status, report = _check_json(capsys, path)
    assert status == 1 and [(e["line"], e["code"]) for e in report["errors"]] == [(3, "invalid_encoding")]


@pytest.mark.parametrize("codec", ["utf-16", "utf-32"])
def test_a_utf16_or_utf32_json_array_is_read_as_an_array(tmp_path, capsys, codec):
    path = tmp_path / "data.json"
    path.write_bytes(json.dumps([_good(n) for n in range(3)], indent=2).encode(codec))
    status, report = _check_json(capsys, path)
    assert status == 0 and report["examples"] == 3, report["errors"]


def test_a_symlink_loop_is_refused_with_exit_2(workspace, tmp_path, capsys):
    (tmp_path / "a.jsonl").symlink_to(tmp_path / "b.jsonl")
    (tmp_path / "b.jsonl").symlink_to(tmp_path / "a.jsonl")
    code = main(["--project", str(workspace.root), "data", "check", str(tmp_path / "a.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and "failed unexpectedly" not in err and "a.jsonl" in err and "hint:" in err


def test_a_csv_header_cannot_send_terminal_escapes_through_the_error(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("\x1b]0;pwned\x07question,\x1b[2Jreply\nHi?,Hello.\n")
    code = main(["data", "check", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "no prompt or response column" in err
    assert "\x1b" not in err and "\x07" not in err and "\\x1b]0;pwned\\x07question" in err


def test_a_csv_column_named_twice_is_refused_rather_than_one_of_them_read(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("question,answer,question\nHi?,Hello.,Bye?\n")
    code = main(["data", "check", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "'question'" in err and "twice" in err and "hint:" in err


def test_an_import_whose_target_is_a_folder_exits_2_and_leaves_no_temp_file(workspace, tmp_path, capsys):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(_good(n)) + "\n" for n in range(12)))
    (workspace.data_dir / "all.jsonl").mkdir()
    code = main(["--project", str(workspace.root), "data", "import", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "failed unexpectedly" not in err and "all.jsonl" in err and "hint:" in err
    assert [p.name for p in workspace.data_dir.iterdir()] == ["all.jsonl"]


def test_an_integer_beyond_64_bits_in_a_json_document_is_imported_as_written(workspace, tmp_path, capsys):
    call = {"id": "c1", "index": 2**70, "type": "function", "function": {"name": "f", "arguments": "{}"}}
    odd = {"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": None, "tool_calls": [call]}]}
    path = tmp_path / "data.json"
    path.write_text(json.dumps([_good(n) for n in range(11)] + [odd]))
    code = main(["--project", str(workspace.root), "data", "import", str(path)])
    assert code == 0, capsys.readouterr().err
    assert str(2**70) in (workspace.data_dir / "all.jsonl").read_text().splitlines()[11]
    assert main(["--project", str(workspace.root), "data", "split"]) == 0


@pytest.mark.parametrize("seed", ["-5", str(2**31), str(10**30)])
def test_a_split_seed_that_training_would_refuse_is_refused_before_the_split(workspace, tmp_path, capsys, seed):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(_good(n)) + "\n" for n in range(20)))
    assert main(["--project", str(workspace.root), "data", "import", str(path)]) == 0
    settings_before = (workspace.root / "tuneui.toml").read_text()
    code = main(["--project", str(workspace.root), "data", "split", "--seed", seed])
    err = capsys.readouterr().err
    assert code == 2 and "--seed" in err and "hint:" in err and "failed unexpectedly" not in err
    assert not workspace.train_file.exists() and (workspace.root / "tuneui.toml").read_text() == settings_before


@pytest.mark.parametrize("seed, words", [("-5", "at least 0"), ("3000000000", "less than 2,147,483,648")])
def test_a_hand_written_seed_out_of_range_in_tuneui_toml_is_refused_when_read(workspace, capsys, seed, words):
    toml = workspace.root / "tuneui.toml"
    toml.write_text(toml.read_text().replace("seed = 0", f"seed = {seed}"))
    code = main(["--project", str(workspace.root), "data", "stats"])
    err = capsys.readouterr().err
    assert code == 2 and "data.seed" in err and words in err and "failed unexpectedly" not in err


@pytest.mark.parametrize("call", ["get_weather", 5, {"name": "get_weather"}, {"name": "", "arguments": "{}"}, {"name": "f", "arguments": {"city": "Oslo"}}])
def test_a_legacy_function_call_must_be_a_name_with_string_arguments(tmp_path, capsys, call):
    record = {"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "function_call": call}]}
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(record) + "\n")
    status, report = _check_json(capsys, path)
    assert status == 1 and [e["code"] for e in report["errors"]] == ["data_type"]
    assert "function_call" in report["errors"][0]["message"]


def test_a_well_formed_legacy_function_call_is_usable(tmp_path, capsys):
    call = {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}
    record = {"messages": [{"role": "user", "content": "Weather?"}, {"role": "assistant", "function_call": call}]}
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(record) + "\n")
    status, report = _check_json(capsys, path)
    assert status == 0 and report["errors"] == []


def test_a_split_of_examples_that_all_share_one_prompt_says_why_it_cannot_be_made(workspace, tmp_path, capsys):
    # "Write a poem" forty times with forty poems: one prompt group, which never straddles the splits.
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": "Write a poem."}, {"role": "assistant", "content": f"Poem {n}."}]}) + "\n" for n in range(40)))
    assert main(["--project", str(workspace.root), "data", "import", str(path)]) == 0
    capsys.readouterr()
    code = main(["--project", str(workspace.root), "data", "split"])
    err = capsys.readouterr().err
    assert code == 1 and "40 of the 40 examples share one prompt" in err and "lower the share" not in err


@pytest.mark.parametrize(
    "message",
    [
        {"role": "r" * 100_000, "content": "Hi?"},
        {"role": "user", "content": "Hi?", "weight": ["x"] * 100_000},
        {"role": "user", "content": "Hi?", **{f"key{n}": 1 for n in range(20_000)}},
    ],
)
def test_a_huge_value_is_quoted_in_short_not_poured_onto_the_terminal(tmp_path, capsys, message):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps({"messages": [message, {"role": "assistant", "content": "Hello."}]}) + "\n")
    status, report = _check_json(capsys, path)
    assert status == 1 and len(report["errors"]) == 1 and len(report["errors"][0]["message"]) < 300


def test_a_file_of_broken_lines_keeps_about_a_hundred_bytes_per_finding(tmp_path):
    """Every finding is kept (--json lists them all): 1.2 million broken lines took 450 MB."""
    import tracemalloc

    from tuneui.core.dataset.sources import iter_jsonl

    path = tmp_path / "broken.jsonl"
    path.write_bytes(b"{broken\n" * 100_000)
    tracemalloc.start()
    try:
        kept = list(iter_jsonl(path))
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(kept) == 100_000 and size / len(kept) < 150


def test_a_jsonl_file_with_old_mac_line_ends_says_so(tmp_path, capsys):
    path = tmp_path / "data.jsonl"
    path.write_bytes("\r".join(json.dumps(_good(n)) for n in range(12)).encode() + b"\r")
    status, report = _check_json(capsys, path)
    assert status == 1 and [(e["line"], e["code"]) for e in report["errors"]] == [(1, "invalid_json")]
    assert "carriage return" in report["errors"][0]["message"] and "CRLF" in report["errors"][0]["hint"]


def test_a_nul_byte_in_a_csv_cell_is_a_finding_on_its_row_as_in_jsonl(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_bytes(b"prompt,response\nHi?,Hello.\nBye\x00?,Goodbye.\nAgain?,Yes.\n")
    status, report = _check_json(capsys, path)
    assert status == 1 and report["examples"] == 2
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(3, "invalid_encoding")] and "NUL" in report["errors"][0]["message"]


@pytest.mark.parametrize("as_json", [True, False])
def test_a_file_name_that_is_not_utf8_is_shown_not_a_crash(workspace, tmp_path, capsys, as_json):
    path = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.jsonl"))  # a Latin-1 name, as old archives hold
    path.write_text("".join(json.dumps(_good(n)) + "\n" for n in range(12)))
    code = main(["data", "check", str(path), *(["--json"] if as_json else [])])
    out = capsys.readouterr().out  # pytest's capture, like a UTF-8 terminal, refuses the raw byte
    shown = json.loads(out)["file"] if as_json else out
    assert code == 0 and "caf\\xe9.jsonl" in shown
    assert main(["--project", str(workspace.root), "data", "import", str(path)]) == 0
    assert "caf\\xe9.jsonl" in capsys.readouterr().out


def test_a_question_made_of_blank_text_parts_is_as_empty_as_a_blank_string(tmp_path, capsys):
    blank = {"role": "user", "content": [{"type": "text", "text": "  "}, {"type": "text", "text": ""}]}
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps({"messages": [blank, {"role": "assistant", "content": "Hello."}]}) + "\n")
    status, report = _check_json(capsys, path)
    assert status == 1 and [e["code"] for e in report["errors"]] == ["missing_content"]
