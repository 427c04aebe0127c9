"""`tuneui data ...` as a person runs it: exit codes, the JSON contract, and files left as they were."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tuneui.cli import main

from .conftest import chat, many_chats


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_check_json_follows_the_contract(capsys, write_jsonl) -> None:
    path = write_jsonl(many_chats(12) + [chat("No system", "ok", system=None)])
    code, out, _ = run(capsys, "data", "check", str(path), "--json")
    report = json.loads(out)
    assert code == 0
    assert set(report) == {"file", "format", "examples", "errors", "warnings", "tokens"}
    assert report["format"] == "chat" and report["examples"] == 13 and report["errors"] == []
    assert report["warnings"] == [
        {"line": 13, "code": "missing_system", "message": "The example has no system prompt.", "hint": report["warnings"][0]["hint"]}
    ]
    assert report["tokens"]["encoding"] == "o200k_base"
    assert len(report["tokens"]["per_example"]) == 13 and sum(report["tokens"]["per_example"]) == report["tokens"]["total"]


def test_check_human_output_groups_findings_with_file_and_line(capsys, write_jsonl) -> None:
    path = write_jsonl([*many_chats(11), {"messages": [{"role": "bot", "content": "x"}]}])
    code, out, _ = run(capsys, "data", "check", str(path))
    assert code == 1
    assert "unrecognized_role (1)" in out and f"{path}:12" in out and "hint: Use one of the roles" in out
    assert "cannot be used until the errors are fixed" in out


MALFORMED = {
    "truncated.jsonl": (json.dumps(chat("a", "b")) + "\n" + '{"messages": [{"role": "us').encode(),
    "wrong_types.jsonl": (json.dumps(chat("a", "b")) + "\n" + json.dumps({"messages": [{"role": "user", "content": ["x", 1]}]})).encode(),
    "unknown_role.jsonl": (json.dumps(chat("a", "b")) + "\n" + json.dumps({"messages": [{"role": "human", "content": "hi"}, {"role": "assistant", "content": "yo"}]})).encode(),
    "latin1.jsonl": json.dumps(chat("a", "b")).encode() + b'\n{"messages": [{"role": "user", "content": "caf\xe9"}]}\n',
    "latin1.json": b'[\n {"instruction": "a", "output": "b"},\n {"instruction": "caf\xe9", "output": "b"}\n]\n',
    "latin1.csv": b"prompt,response\nhello,world\ncaf\xe9,au lait\n",
    "empty.jsonl": b"",
    "binary.jsonl": bytes(range(256)) * 40,
    "array.jsonl": json.dumps(many_chats(2), indent=2).encode(),
    "megaline.jsonl": json.dumps(chat("a", "b")).encode() + b"\n" + b'{"messages": "' + b"x" * 1_100_000 + b"\n",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_exit_nonzero_with_a_line_and_stay_unchanged(capsys, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(MALFORMED[name])
    before = digest(path)
    code, out, err = run(capsys, "data", "check", str(path), "--json")
    assert code in (1, 2)
    report = json.loads(out)
    assert report["errors"], report
    assert all(isinstance(e["line"], int) for e in report["errors"]) or name == "empty.jsonl"
    assert "Traceback" not in out + err
    assert digest(path) == before


@pytest.mark.integration
def test_malformed_file_through_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[{"instruction": "a", "output": "b"},\n {"instruction": ')
    done = subprocess.run([sys.executable, "-m", "tuneui", "data", "check", str(path)], capture_output=True, text=True)
    assert done.returncode == 1
    assert f"{path}:2" in done.stdout and "invalid_json" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "check", "/nonexistent/data.jsonl"],
        ["data", "check", "FILE", "--format", "yaml"],
        ["data", "check", "FILE", "--encoding", "p50k_base"],
        ["data", "check", "FILE", "--encoding", "o200k_base", "--model", "gpt-4o-mini"],
    ],
)
def test_commands_that_cannot_run_exit_2(capsys, write_jsonl, argv) -> None:
    path = write_jsonl(many_chats(10))
    argv = [str(path) if arg == "FILE" else arg for arg in argv]
    try:
        code, _, err = run(capsys, *argv)
    except SystemExit as exit:  # argparse's own usage errors
        code, err = exit.code, capsys.readouterr().err
    assert code == 2 and err


def test_check_without_a_file_needs_an_import(capsys, workspace) -> None:
    code, _, err = run(capsys, "--project", str(workspace.root), "data", "check")
    assert code == 2 and "tuneui data import" in err


def test_import_split_stats_check_in_a_project(capsys, workspace, tmp_path: Path) -> None:
    source = tmp_path / "tickets.csv"
    rows = "".join(f'"Ticket {n}: where is my order?",{"late" if n % 3 else "lost"}\n' for n in range(60))
    source.write_text("question,answer\n" + rows)
    before = digest(source)
    project = ["--project", str(workspace.root)]

    code, out, _ = run(capsys, *project, "data", "import", str(source))
    assert code == 0 and "Imported 60 examples (csv)" in out
    assert digest(source) == before
    imported = (workspace.data_dir / "all.jsonl").read_text().splitlines()
    assert json.loads(imported[0]) == {"messages": [{"role": "user", "content": "Ticket 0: where is my order?"}, {"role": "assistant", "content": "lost"}]}

    code, out, _ = run(capsys, *project, "data", "split", "--val", "0.25", "--seed", "7")
    assert code == 0 and "stratified" in out
    assert len(workspace.val_file.read_text().splitlines()) == 15
    assert workspace.settings().data.val_fraction == 0.25 and workspace.settings().data.seed == 7
    first_val = workspace.val_file.read_bytes()
    run(capsys, *project, "data", "split")
    assert workspace.val_file.read_bytes() == first_val  # the saved ratio and seed reproduce it

    code, out, _ = run(capsys, *project, "data", "stats", "--json")
    described = json.loads(out)
    assert code == 0 and described["examples"] == 60 and described["splits"] == {"train": 45, "val": 15}
    assert described["task_type"] == "classification" and described["guidance"]["category"] == "automation"

    code, out, _ = run(capsys, *project, "data", "stats")
    assert "median" in out and "retrieval" in out

    code, out, _ = run(capsys, *project, "data", "check", "--json")
    assert code == 0 and json.loads(out)["examples"] == 60


def test_check_of_a_split_file_reports_leakage(capsys, workspace) -> None:
    records = many_chats(20)
    workspace.train_file.write_text("".join(json.dumps(r) + "\n" for r in records[:15]))
    workspace.val_file.write_text("".join(json.dumps(r) + "\n" for r in [*records[15:], records[2]]))
    code, out, _ = run(capsys, "--project", str(workspace.root), "data", "check", str(workspace.val_file), "--json")
    leaks = [w for w in json.loads(out)["warnings"] if w["code"] == "leakage"]
    assert code == 0 and [w["line"] for w in leaks] == [6] and "line 3" in leaks[0]["message"]


def test_import_with_errors_writes_nothing(capsys, workspace, write_jsonl) -> None:
    path = write_jsonl([*many_chats(12), '{"messages": ['])
    code, _, err = run(capsys, "--project", str(workspace.root), "data", "import", str(path))
    assert code == 1 and f"{path}:13" in err and "Nothing was imported" in err
    assert not (workspace.data_dir / "all.jsonl").exists()


def test_split_refusal_exits_1_with_the_reason(capsys, workspace, write_jsonl) -> None:
    run(capsys, "--project", str(workspace.root), "data", "import", str(write_jsonl(many_chats(11))))
    code, _, err = run(capsys, "--project", str(workspace.root), "data", "split")
    assert code == 1 and "at least 10" in err
    assert not workspace.train_file.exists()
