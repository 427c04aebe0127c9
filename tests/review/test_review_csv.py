"""Off-screen review: `tuneui review RUN --export FILE.csv` and `--import FILE.csv`."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tuneui.cli import main
from tuneui.core.review_csv import COLUMNS
from tuneui.steps.review import human_for_run, open_review

from tests.review.reviewkit import demo_project, write_evaluated_run


@pytest.fixture
def demo(tmp_path):
    workspace = demo_project(tmp_path / "demo")
    return workspace, write_evaluated_run(workspace)


def _review(workspace, *args: str) -> int:
    return main(["--project", str(workspace.root), "review", *args])


def _rows(path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def _write(path, rows) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def test_the_export_is_blind_and_in_the_stored_order(demo, tmp_path, capsys) -> None:
    workspace, run_id = demo
    target = tmp_path / "pairs.csv"
    assert _review(workspace, run_id, "--export", str(target)) == 0
    rows = _rows(target)
    assert list(rows[0]) == list(COLUMNS) and len(rows) == 22
    review = open_review(workspace, run_id)
    layout = review.store.read()[0]
    assert [row["pair"] for row in rows] == list(layout.order)
    # Nothing names the sides: the tuned answer is A on some rows and B on others, and no column says which.
    tuned = {p.key: p.tuned for p in review.pairs}
    sides = {("A" if row["answer_a"] == tuned[row["pair"]] else "B") for row in rows}
    assert sides == {"A", "B"}
    assert not any("tuned" in name or "baseline" in name for name in rows[0])
    assert _review(workspace, run_id, "--export", str(target)) == 2, "an export never overwrites a file"
    assert "exists already" in capsys.readouterr().err


def test_imported_votes_count_with_their_reviewer(demo, tmp_path, capsys) -> None:
    workspace, run_id = demo
    target = tmp_path / "pairs.csv"
    _review(workspace, run_id, "--export", str(target))
    rows = _rows(target)
    review = open_review(workspace, run_id)
    tuned = {p.key: p.tuned for p in review.pairs}
    for number, row in enumerate(rows):
        tuned_side = "A" if row["answer_a"] == tuned[row["pair"]] else "B"
        row["vote"] = "tie" if number % 4 == 0 else tuned_side  # people prefer tuned, with a few ties
        row["reviewer"] = "carol" if number < 5 else ""
    _write(target, rows)
    before = target.read_bytes()
    capsys.readouterr()
    assert _review(workspace, run_id, "--import", str(target), "--reviewer", "dan", "--json") == 0
    human = json.loads(capsys.readouterr().out)
    assert human["votes"] == 22 and human["ties"] == 6 and human["tuned_wins"] == 16 and human["baseline_wins"] == 0
    assert human["reviewers"] == {"carol": 5, "dan": 17}
    assert human_for_run(workspace, run_id).summary() == human
    assert target.read_bytes() == before, "the input file is never changed"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda rows: rows[6].update(answer_b=rows[6]["answer_b"] + " I added this."), (6, lambda line_of: "the answer_b of pair")),
        (lambda rows: rows[2].update(pair="0123456789abcdef"), (2, lambda line_of: "pair '0123456789abcdef' is not one of run")),
        (lambda rows: rows[3].update(vote="maybe"), (3, lambda line_of: "vote 'maybe' is not A, B, tie or empty")),
        (lambda rows: rows[4].update(pair=rows[1]["pair"]), (4, lambda line_of: f"is on line {line_of(1)} (row 3) already")),
    ],
    ids=["tampered answer", "foreign pair", "bad vote", "pair twice"],
)
def test_a_tampered_or_foreign_file_is_refused_with_its_line(demo, tmp_path, capsys, change, problem) -> None:
    workspace, run_id = demo
    target = tmp_path / "pairs.csv"
    _review(workspace, run_id, "--export", str(target))
    rows = [dict(row, vote="A") for row in _rows(target)]
    for row in rows:
        row["request"] = row["request"].replace("\r\n", "\n")
    change(rows)
    _write(target, rows)
    index, problem = problem
    # The line the wrong record starts on in a text editor (answers span lines), and its row in a sheet.
    text = target.read_text(encoding="utf-8")

    def line_of(position: int) -> int:
        return text[: text.index(rows[position]["request"].splitlines()[0])].count("\n") + 1

    capsys.readouterr()
    assert _review(workspace, run_id, "--import", str(target)) == 1
    err = capsys.readouterr().err
    assert f"pairs.csv line {line_of(index)} (row {index + 2}): " in err and problem(line_of) in err and "Traceback" not in err
    assert human_for_run(workspace, run_id) is None, "a refused file adds no vote at all"


def test_a_file_of_another_run_is_refused(demo, tmp_path, capsys) -> None:
    workspace, run_id = demo
    other = write_evaluated_run(workspace, run_id="20261207-130000-other", tuned=[f"other answer {i}" for i in range(22)])
    target = tmp_path / "other.csv"
    _review(workspace, other, "--export", str(target))
    rows = [dict(row, vote="B") for row in _rows(target)]
    _write(target, rows)
    capsys.readouterr()
    assert _review(workspace, run_id, "--import", str(target)) == 1
    assert f"line 2 (row 2): pair '{rows[0]['pair']}' is not one of run {run_id}'s pairs" in capsys.readouterr().err


def test_an_answer_that_looks_like_a_formula_is_quoted_for_the_spreadsheet(demo, tmp_path, capsys) -> None:
    workspace, _ = demo
    run_id = write_evaluated_run(workspace, run_id="20261207-140000-formula", tuned=["=HYPERLINK(\"http://x\")"] * 22)
    target = tmp_path / "pairs.csv"
    _review(workspace, run_id, "--export", str(target))
    rows = _rows(target)
    assert all(row["answer_a"].startswith("'=") or row["answer_b"].startswith("'=") for row in rows)
    _write(target, [dict(row, vote="tie") for row in rows])
    capsys.readouterr()
    assert _review(workspace, run_id, "--import", str(target), "--json") == 0, "the quote the export added is no tampering"
    assert json.loads(capsys.readouterr().out)["ties"] == 22


def test_review_before_eval_says_what_to_run(tmp_path, capsys) -> None:
    workspace = demo_project(tmp_path / "demo")
    assert _review(workspace, "20261207-120000-nope", "--export", str(tmp_path / "x.csv")) != 0
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\xff\xfe\x00garbage", "not UTF-8 text"),
        (b"", "line 1: the header is not pair,line,request"),
        (b"pair,vote\r\nabc,A\r\n", "line 1: the header is not pair,line,request"),
        ((",".join(COLUMNS) + "\r\nabc,1,x\r\n").encode(), "line 2 (row 2): 3 cells, not 8"),
    ],
    ids=["not utf-8", "empty", "other header", "short row"],
)
def test_a_file_that_is_no_export_is_refused_without_a_traceback(demo, tmp_path, capsys, content, problem) -> None:
    workspace, run_id = demo
    target = tmp_path / "votes.csv"
    target.write_bytes(content)
    assert _review(workspace, run_id, "--import", str(target)) == 1
    err = capsys.readouterr().err
    assert problem in err and "Traceback" not in err
    assert target.read_bytes() == content


def test_a_missing_file_is_named(demo, tmp_path, capsys) -> None:
    workspace, run_id = demo
    assert _review(workspace, run_id, "--import", str(tmp_path / "nope.csv")) == 1
    assert "Cannot read" in capsys.readouterr().err
