"""`tuneui data` on files that are not what they seem."""

from __future__ import annotations

from tuneui.cli import main


def test_records_of_a_one_line_json_array_name_their_line_once(tmp_path, capsys):
    data = tmp_path / "numbers.json"
    data.write_text("[1, 2, 3]\n")
    assert main(["data", "check", str(data)]) == 1
    out = capsys.readouterr().out
    assert "data_type (3)" in out
    assert f"{data}: line 1: The record is a number" in out
