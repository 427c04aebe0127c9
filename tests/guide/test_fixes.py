"""Mechanical fixes of the project's copy of the examples: planned as a diff, saved only when
asked, the imported file untouched, and undone by one step (issue 21)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneui.core.dataset import check
from tuneui.core.dataset.fixes import apply_fix, can_undo, fix_for, plan_fix, undo_fix
from tuneui.core.dataset.loader import import_file
from tuneui.errors import TuneError

PROMPT = "You answer for Cadence Cycles."


def _csv(tmp_path: Path, rows: int = 62) -> Path:
    """A user's own CSV: no system column, one exact duplicate, padded text."""
    lines = ["question,answer"]
    lines += [f"Question number {n}?,Answer number {n}." for n in range(rows - 2)]
    lines += ["Question number 3?,Answer number 3.", '"  Padded question?  ","Padded answer.  "']
    path = tmp_path / "mine.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _project_copy(tmp_path: Path) -> tuple[Path, Path, bytes]:
    source = _csv(tmp_path)
    before = source.read_bytes()
    target = tmp_path / "project" / "data" / "all.jsonl"
    target.parent.mkdir(parents=True)
    import_file(source, target, None, None)
    return source, target, before


def _codes(path: Path) -> list[str]:
    report = check(path, None, None)
    return [finding.code for finding in list(report.errors) + list(report.warnings)]


def test_adding_the_system_prompt_clears_every_missing_system_finding(tmp_path: Path) -> None:
    source, copy, before = _project_copy(tmp_path)
    assert _codes(copy).count("missing_system") == 62
    plan = plan_fix(copy, fix_for("missing_system") or "", system_prompt=PROMPT)
    assert len(plan.changes) == 62
    assert copy.read_text(encoding="utf-8").count(PROMPT) == 0, "planning writes nothing"
    diff = plan.diff()
    assert diff[0].startswith("- 1: ") and diff[1].startswith("+ 1: ") and PROMPT[:20] in diff[1]
    assert diff[-1] == "… and 56 more changed lines"
    assert apply_fix(plan) == 62
    assert "missing_system" not in _codes(copy)
    assert source.read_bytes() == before, "the imported file is never touched"
    first = json.loads(copy.read_text(encoding="utf-8").splitlines()[0])
    assert first["messages"][0] == {"role": "system", "content": PROMPT}


def test_duplicates_go_keeping_the_first_and_undo_puts_them_back(tmp_path: Path) -> None:
    source, copy, before = _project_copy(tmp_path)
    original = copy.read_bytes()
    assert "duplicate" in _codes(copy)
    plan = plan_fix(copy, "duplicate")
    assert [(c.line, c.after) for c in plan.changes] == [(61, None)]
    apply_fix(plan)
    lines = copy.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 61 and "Question number 3?" in lines[3]
    assert "duplicate" not in _codes(copy)
    assert can_undo(copy)
    undo_fix(copy)
    assert copy.read_bytes() == original
    assert not can_undo(copy)
    assert source.read_bytes() == before


def test_whitespace_is_trimmed_and_a_fix_can_touch_one_line_only(tmp_path: Path) -> None:
    _, copy, _ = _project_copy(tmp_path)
    plan = plan_fix(copy, "whitespace")
    assert [c.line for c in plan.changes] == [62]
    assert "Padded question?" in plan.changes[0].after and "  Padded" not in plan.changes[0].after
    one = plan_fix(copy, "system", system_prompt=PROMPT, line=5)
    assert [c.line for c in one.changes] == [5]
    apply_fix(one)
    assert _codes(copy).count("missing_system") == 61


def test_a_file_changed_since_the_diff_was_shown_is_not_overwritten(tmp_path: Path) -> None:
    _, copy, _ = _project_copy(tmp_path)
    plan = plan_fix(copy, "duplicate")
    copy.write_text(copy.read_text(encoding="utf-8") + copy.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    edited = copy.read_bytes()
    with pytest.raises(TuneError, match="changed since"):
        apply_fix(plan)
    assert copy.read_bytes() == edited


def test_no_system_prompt_means_no_system_fix(tmp_path: Path) -> None:
    _, copy, _ = _project_copy(tmp_path)
    with pytest.raises(TuneError, match="no system prompt"):
        plan_fix(copy, "system", system_prompt="  ")
