"""Inputs that used to hang, crash later or be misread: each is refused or reported at its line, up front."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuneui.cli import main

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _good(n: int) -> dict:
    return {"messages": [{"role": "user", "content": f"Question {n}?"}, {"role": "assistant", "content": f"Answer {n}."}]}


def _lines(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def _check_json(capsys, path: Path) -> tuple[int, dict]:
    code = main(["data", "check", str(path), "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.integration
@pytest.mark.parametrize("action", [["data", "check"], ["data", "import"]])
def test_a_fifo_is_refused_at_once_not_read_forever(workspace, tmp_path, action):
    fifo = tmp_path / "examples.jsonl"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "tuneui", "--project", str(workspace.root), *action, str(fifo)],
        capture_output=True, text=True, timeout=30, env=env,
    )  # fmt: skip
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{fifo} is not a regular file" in out.stderr and "hint:" in out.stderr


def test_a_device_is_refused(capsys):
    assert main(["data", "check", "/dev/zero"]) == 2
    assert "/dev/zero is not a regular file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "message, code, words",
    [
        ({"role": "user", "content": [{"type": "text", "text": 5}]}, "data_type", "text"),
        ({"role": "user", "content": []}, "missing_content", "empty"),
        ({"role": "tool", "content": "42"}, "message_missing_key", "tool_call_id"),
        ({"role": "user", "content": [{"type": "text"}]}, "data_type", "text"),
    ],
)
def test_content_and_tool_messages_are_checked_as_the_provider_does(tmp_path, capsys, message, code, words):
    record = {"messages": [message, {"role": "assistant", "content": "ok"}]}
    path = tmp_path / "data.jsonl"
    path.write_text(_lines(*[_good(n) for n in range(3)], record))
    status, report = _check_json(capsys, path)
    assert status == 1
    found = [e for e in report["errors"] if e["line"] == 4]
    assert [e["code"] for e in found] == [code] and words in found[0]["message"]


@pytest.mark.parametrize(
    "tool_calls, words",
    [("call it", "list"), ([{"id": "c1", "type": "function"}], "function"), ([{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"x": 1}}}], "arguments")],
)
def test_tool_calls_must_be_a_list_of_calls(tmp_path, capsys, tool_calls, words):
    record = {"messages": [{"role": "user", "content": "weather?"}, {"role": "assistant", "tool_calls": tool_calls}, {"role": "tool", "tool_call_id": "c1", "content": "sun"}, {"role": "assistant", "content": "Sunny."}]}
    path = tmp_path / "data.jsonl"
    path.write_text(_lines(record))
    status, report = _check_json(capsys, path)
    assert status == 1
    assert [e["code"] for e in report["errors"]] == ["data_type"] and words in report["errors"][0]["message"]


def test_a_well_formed_tool_conversation_is_ready(tmp_path, capsys):
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Oslo\"}"}}
    record = {"messages": [{"role": "user", "content": "weather?"}, {"role": "assistant", "tool_calls": [call]}, {"role": "tool", "tool_call_id": "c1", "content": "sun"}, {"role": "assistant", "content": "Sunny."}]}
    path = tmp_path / "data.jsonl"
    path.write_text(_lines(record))
    status, report = _check_json(capsys, path)
    assert status == 0 and report["errors"] == []


def test_a_deeply_nested_json_document_is_invalid_json(tmp_path, capsys):
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000)
    status, report = _check_json(capsys, path)
    assert status == 1 and [e["code"] for e in report["errors"]] == ["invalid_json"]
    assert "nested" in report["errors"][0]["message"]


@pytest.mark.parametrize("codec", ["utf-16", "utf-32", "utf-16-be"])
def test_utf16_and_utf32_with_a_bom_are_read(tmp_path, capsys, codec):
    path = tmp_path / "data.jsonl"
    text = _lines(*[_good(n) for n in range(3)])
    data = text.encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data
    path.write_bytes(data)
    status, report = _check_json(capsys, path)
    assert status == 0 and report["examples"] == 3, report["errors"]


def test_utf16_csv_is_read(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_bytes("prompt,response\nHi?,Hello.\nBye?,Goodbye.\n".encode("utf-16"))
    status, report = _check_json(capsys, path)
    assert report["examples"] == 2 and not report["errors"]


def test_a_nul_byte_is_a_finding_on_its_line_not_the_whole_file(tmp_path, capsys):
    path = tmp_path / "data.jsonl"
    path.write_bytes(_lines(_good(1), _good(2)).encode() + b'{"messages": [\x00]}\n' + _lines(_good(4)).encode())
    status, report = _check_json(capsys, path)
    assert status == 1 and report["examples"] == 3
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(3, "invalid_encoding")]
    assert "NUL" in report["errors"][0]["message"]


def test_an_unterminated_csv_quote_is_named_with_its_line(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text('prompt,response\nHi?,Hello.\n"Bye?,Goodbye.\nAgain?,Yes.\n')
    status, report = _check_json(capsys, path)
    assert status == 1
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(3, "invalid_json")]
    assert "quote" in report["errors"][0]["message"] and "never closed" in report["errors"][0]["message"]


@pytest.mark.integration
def test_import_memory_stays_flat_in_the_number_of_records(workspace, tmp_path):
    """50,000 tiny records: the import used to hold every example (and every output line) at once."""
    source = tmp_path / "tiny.jsonl"
    source.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{n}"}, {"role": "assistant", "content": "a"}]}) + "\n" for n in range(50_000)))
    # VmHWM, not ru_maxrss: the latter keeps the peak of the forked test process across exec.
    measure = (
        "import sys; from tuneui.cli import main; code = main(sys.argv[1:]); "
        "print([int(l.split()[1]) // 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')][0]); sys.exit(code)"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", measure, "--project", str(workspace.root), "data", "import", str(source)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    peak_mb = int(out.stdout.strip().splitlines()[-1])
    assert peak_mb < 150, f"peak {peak_mb} MB for 50,000 tiny records"
    assert sum(1 for _ in open(workspace.data_dir / "all.jsonl")) == 50_000
