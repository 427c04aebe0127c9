"""The third attack on the Dataset view's model: a save over a file another app changed since the
view read it is refused, not written over the other edit (finding 5); the view's findings are the
ones `tuneui data check` reports, token-based warnings included (issue 24, "Also seen")."""

from __future__ import annotations

import json

import pytest

from tuneui.cli import main
from tuneui.viewmodels.dataset import DatasetChangedError, read_dataset, save_examples, with_messages


def _line(n: int, answer: str | None = None) -> str:
    return json.dumps({"messages": [{"role": "user", "content": f"Question {n}?"}, {"role": "assistant", "content": answer or f"Answer {n}."}]})


@pytest.fixture
def imported(workspace):
    path = workspace.data_dir / "all.jsonl"
    path.write_text("\n".join(_line(n) for n in range(5)) + "\n", encoding="utf-8")
    return workspace, path


def test_a_save_over_a_file_changed_since_it_was_read_is_refused(imported):
    workspace, path = imported
    shown = read_dataset(path)  # this app's view
    # The other app edits line 1 and saves.
    other = read_dataset(path)
    theirs = list(other.examples)
    theirs[0] = with_messages(theirs[0], ["Question 0?", "Their careful answer."])
    save_examples(workspace, path, theirs, other)
    # This app, still showing the old file, edits line 2 and saves.
    mine = list(shown.examples)
    mine[1] = with_messages(mine[1], ["Question 1?", "My answer."])
    with pytest.raises(DatasetChangedError) as caught:
        save_examples(workspace, path, mine, shown)
    assert "all.jsonl changed on disk since this view read it" in caught.value.title and "not saved" in caught.value.title
    text = path.read_text(encoding="utf-8")
    assert "Their careful answer." in text and "My answer." not in text


def test_a_save_on_a_fresh_read_goes_through(imported):
    workspace, path = imported
    shown = read_dataset(path)
    mine = list(shown.examples)
    mine[1] = with_messages(mine[1], ["Question 1?", "My answer."])
    after = save_examples(workspace, path, mine, shown)
    assert "My answer." in path.read_text(encoding="utf-8")
    # The snapshot a save returns is the next edit's base: a second save goes through too.
    again = list(after.examples)
    again[2] = with_messages(again[2], ["Question 2?", "Another."])
    save_examples(workspace, path, again, after)
    assert "Another." in path.read_text(encoding="utf-8")


def test_the_view_shows_the_token_warnings_data_check_reports(workspace, capsys):
    path = workspace.data_dir / "all.jsonl"
    lines = [_line(n) for n in range(24)] + [_line(24, "word " * 400), _line(25, "word " * 70_000)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["--project", str(workspace.root), "data", "check", "--json"]) == 0
    reported = {(w["line"], w["code"]) for w in json.loads(capsys.readouterr().out)["warnings"]}
    assert {(26, "too_long"), (25, "length_outlier")} <= reported
    shown = {(f.line, f.code) for f in read_dataset(path).findings if f.severity == "warning"}
    assert shown == reported
