"""The check's sentence in the conversation: the findings are "each with its line" only when there are any."""

from __future__ import annotations

from tuneui.core.workspace import init_workspace
from tuneui.guide.runner import StepResult, StepRunner


def _checked(tmp_path, monkeypatch, data: dict) -> tuple[str, list[str]]:
    workspace = init_workspace(tmp_path / "project")
    (workspace.data_dir / "support.jsonl").write_text("{}\n", encoding="utf-8")
    runner = StepRunner(workspace)
    asked: list[list[str]] = []
    monkeypatch.setattr(runner, "run_command", lambda args, accept_codes=(0,): asked.append(args) or StepResult(True, data))
    return runner.check().summary, asked[0]


def test_a_clean_check_says_so_and_findings_say_where(tmp_path, monkeypatch) -> None:
    summary, command = _checked(tmp_path, monkeypatch, {"errors": [], "warnings": []})
    assert summary == "Checked support.jsonl: 0 errors, 0 warnings."
    assert command[:2] == ["data", "check"] and command[2].endswith("support.jsonl")  # the imported file
    summary, _ = _checked(tmp_path / "again", monkeypatch, {"errors": [], "warnings": [{"line": 3}]})
    assert summary == "Checked support.jsonl: 0 errors, 1 warnings, each with its line."


def _after_check(tmp_path, data: dict):
    from tuneui.guide.machine import Guide
    from tuneui.guide.state import observe
    from tuneui.guide.turns import Action

    workspace = init_workspace(tmp_path / "project")
    (workspace.data_dir / "all.jsonl").write_text("{}\n", encoding="utf-8")
    return Guide(workspace, read_state=observe).finished(Action("check"), StepResult(True, data, summary="Checked."))


def test_after_a_clean_check_the_guide_offers_the_split_with_nothing_to_fix(tmp_path) -> None:
    # Seen walking a fresh project: "split now, or fix what matters in the Dataset view first?"
    # after "No problems found in any example."
    turn = _after_check(tmp_path, {"errors": [], "warnings": []})
    assert turn.question == "Hold out 15% for validation and split now?"
    assert [choice.label for choice in turn.choices] == ["Split now", "Open the Dataset view"]
    warned = _after_check(tmp_path / "warned", {"errors": [], "warnings": [{"line": 3, "code": "contradiction"}]})
    assert warned.question == "Hold out 15% for validation and split now, or fix what matters in the Dataset view first?"
