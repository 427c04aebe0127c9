"""The leaderboard from fixed result files: its rows, their order, the split they stand on, the advice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.evaluate.evalkit import TICKETS, write_split
from tuneui.cli import main
from tuneui.core.trained_split import split_record
from tuneui.steps.leaderboard import CURRENT, OTHER, Entry, advice, build

ROW_FIELDS = {
    "rank", "model", "kind", "variant", "run", "split", "metric", "value", "vs_best_baseline", "ci95",
    "rule_pass_rate", "stopped_on_their_own_rate", "train_seconds", "dollars", "note",
}  # fmt: skip
VAL = TICKETS[6:]  # 6 labels: billing, bug, question, billing, bug, question


def answers(correct: int) -> list[str]:
    """The first `correct` answers right, the rest wrong."""
    return [label if i < correct else "nonsense" for i, (_, label) in enumerate(VAL)]


@pytest.fixture
def project(workspace):
    settings = workspace.settings()
    settings.project.task_type = "classification"
    settings.data.seed = 0
    workspace.save_settings(settings)
    write_split(workspace, TICKETS[:6], VAL)
    return workspace


def save_baseline(workspace, model: str, variant: str, correct: int) -> None:
    from tuneui.core.evalset import load_eval_set

    workspace.baseline_dir.mkdir(exist_ok=True)
    record = {
        "backend": "local", "model": model, "variant": {"name": variant}, "val_sha256": load_eval_set(workspace).fingerprint,
        "predictions": answers(correct), "ended": [True] * (len(VAL) - 1) + [False], "created": 1.0,
    }  # fmt: skip
    (workspace.baseline_dir / f"{variant}-{Path(model).name}.json").write_text(json.dumps(record), encoding="utf-8")


def save_run(workspace, run_id: str, model: str, correct: int | None, *, seconds: float = 120.0, other_split: bool = False) -> None:
    from backends.runs import RunFolder
    from tuneui.core.backend import TrainSpec
    from tuneui.core.evalset import load_eval_set

    split = split_record(workspace, workspace.train_file, workspace.val_file)
    split["project_split"] = True
    if other_split:
        split["val"] = {**split["val"], "sha256": "0" * 64}
    spec = TrainSpec(run_id=run_id, backend="local", model=model, train_file=str(workspace.train_file), options={"split": split})
    folder = RunFolder.create(workspace.runs_dir, spec)
    folder.write_status(status="succeeded", created=1000.0, finished=1000.0 + seconds)
    if correct is not None:
        folder.eval_dir.mkdir(exist_ok=True)
        saved = {"val_sha256": "0" * 64 if other_split else load_eval_set(workspace).fingerprint, "predictions": answers(correct), "ended": [True] * len(VAL)}
        (folder.eval_dir / "predictions.json").write_text(json.dumps(saved), encoding="utf-8")


def compare_json(workspace, capsys) -> list[dict]:
    assert main(["--project", str(workspace.root), "runs", "--compare", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_rows_are_sorted_by_the_primary_metric_with_the_other_split_apart(project, capsys):
    save_baseline(project, "model-a", "zero-shot", 2)
    save_baseline(project, "model-a", "3-shot", 4)
    save_baseline(project, "model-b", "zero-shot", 3)
    save_run(project, "20261207-100000-aaaa", "model-a", 6, seconds=90)
    save_run(project, "20261207-110000-bbbb", "model-b", 5, seconds=30)
    save_run(project, "20261207-120000-cccc", "model-b", 6, other_split=True)  # perfect, on other examples
    save_run(project, "20261207-130000-dddd", "model-a", None)  # trained, not evaluated yet

    rows = compare_json(project, capsys)

    assert all(set(row) == ROW_FIELDS for row in rows)
    shown = [(row["rank"], row["model"], row["variant"] or row["run"], row["split"]) for row in rows]
    assert shown == [
        (1, "local:model-a", "20261207-100000-aaaa", CURRENT),
        (2, "local:model-b", "20261207-110000-bbbb", CURRENT),
        (3, "local:model-a", "3-shot", CURRENT),
        (4, "local:model-b", "zero-shot", CURRENT),
        (5, "local:model-a", "zero-shot", CURRENT),
        (None, "local:model-a", "20261207-130000-dddd", CURRENT),
        (None, "local:model-b", "20261207-120000-cccc", OTHER),
    ]
    best_baseline = rows[2]
    assert best_baseline["value"] == pytest.approx(4 / 6, abs=1e-4)
    assert best_baseline["vs_best_baseline"] == 0 and best_baseline["ci95"] == [0, 0]
    assert rows[0]["vs_best_baseline"] == pytest.approx(2 / 6, abs=1e-4)
    assert rows[0]["metric"] == "accuracy" and rows[0]["train_seconds"] == 90
    assert rows[0]["dollars"] == 0  # [local] gpu_hour_usd is 0: this box costs nothing by the hour
    assert best_baseline["stopped_on_their_own_rate"] == pytest.approx(5 / 6, abs=1e-4)
    assert best_baseline["train_seconds"] is None
    other = rows[-1]
    # Never ranked nor compared with the current split, whatever its score.
    assert other["value"] is None and other["vs_best_baseline"] is None and "another split" in other["note"]
    assert "not evaluated yet" in rows[-2]["note"]


def test_the_text_table_marks_the_other_split_and_ends_with_the_advice(project, capsys):
    save_baseline(project, "model-a", "zero-shot", 4)
    save_run(project, "20261207-120000-cccc", "model-b", 6, other_split=True)
    assert main(["--project", str(project.root), "runs", "--compare"]) == 0
    out = capsys.readouterr().out
    assert out.index("local:model-a") < out.index("on another split") < out.index("local:model-b")
    assert "Only local:model-a has a score on the current split" in out


def test_rule_pass_rate_is_checked_again_with_the_current_rules(project, capsys):
    settings = project.settings()
    settings.rules = {"short": {"max_words": 1}}
    project.save_settings(settings)
    save_baseline(project, "model-a", "zero-shot", 6)
    (row,) = compare_json(project, capsys)
    assert row["rule_pass_rate"] == 1.0


def entry(model: str, correct: int, total: int = 40, *, kind: str = "run", dollars: float | None = None, seconds: float | None = None) -> Entry:
    return Entry(model, kind, f"{model}-{kind}", CURRENT, tuple([1.0] * correct + [0.0] * (total - correct)), dollars=dollars, train_seconds=seconds)


def test_overlapping_intervals_read_within_noise_and_pick_the_cheaper():
    leader, close = entry("local:big", 21, dollars=3.0), entry("local:small", 20, dollars=1.0)
    text = advice([leader, close], "accuracy")
    assert "within noise" in text
    assert "Carry on with local:small, which costs less ($1.00 against $3.00)" in text
    assert "95 % interval" in text


def test_a_clear_lead_is_beyond_noise_and_names_the_leader():
    text = advice([entry("local:big", 38), entry("local:small", 5)], "accuracy")
    assert text.startswith("Carry on with local:big (run local:big-run): it beats local:small")
    assert "beyond noise" in text and "within noise" not in text


def test_within_noise_without_costs_prefers_the_faster_one():
    text = advice([entry("local:a", 21, seconds=600), entry("local:b", 20, seconds=60)], "accuracy")
    assert "within noise" in text and "Carry on with local:b, which trains faster" in text


def test_each_model_is_judged_by_its_best_entry():
    # model a's baseline is weak but its run leads; model b's best is its baseline.
    board = build(
        [entry("local:a", 10, kind="baseline"), entry("local:a", 39), entry("local:b", 12, kind="baseline")], "accuracy"
    )
    assert [row["rank"] for row in board.rows] == [1, 2, 3]
    assert board.best_baseline is not None and board.best_baseline.model == "local:b"
    assert "Carry on with local:a (run local:a-run): it beats local:b (local:b-baseline prompt)" in board.advice


def test_a_tie_puts_the_baseline_first():
    board = build([entry("local:a", 20), entry("local:a", 20, kind="baseline")], "accuracy")
    assert [row["kind"] for row in board.rows] == ["baseline", "run"]


def test_nothing_scored_says_how_to_start():
    board = build([Entry("local:a", "run", "r1", OTHER)], "accuracy")
    assert board.rows[0]["rank"] is None
    assert "tuneui baseline --candidates" in board.advice


def test_the_report_holds_the_leaderboard_of_every_candidate(ticket_project, scripted):
    from backends.runs import RunFolder
    from tuneui.core.backend import ModelRef, TrainSpec
    from tuneui.steps.baseline import run_baseline
    from tuneui.steps.evaluate import evaluate_run
    from tuneui.steps.report import write_report

    from tests.evaluate.evalkit import label_of, question_of

    def answer(model, conversation):
        if model.kind == "adapter":
            return label_of(question_of(conversation))
        return "bug" if model.base_model == "base-model" else "question"

    scripted.answer = staticmethod(answer)
    hostile = "<b>model</b>|two"
    run_baseline(ticket_project, "scripted", hostile)  # a second candidate, with a name that is data
    run_id = ticket_project.new_run_id()
    split = split_record(ticket_project, ticket_project.train_file, ticket_project.val_file)
    spec = TrainSpec(run_id=run_id, backend="scripted", model="base-model", train_file=str(ticket_project.train_file), options={"split": split})
    run = RunFolder.create(ticket_project.runs_dir, spec)
    ref = ModelRef(backend="scripted", base_model="base-model", kind="adapter", path=str(run.adapter_dir))
    run.write_status(status="succeeded", model_ref=ref.to_dict())
    evaluate_run(ticket_project, run_id, judge="", forgetting=False)

    files = write_report(ticket_project, run_id)
    markdown, html = files.markdown.read_text(), files.html.read_text()
    assert "## Comparing base models" in markdown and "<h2>Comparing base models</h2>" in html
    table = markdown.split("## Comparing base models")[1].split("\n## ")[0]
    assert f"| 1 | scripted:base-model | {run_id} | current | 1.000 |" in table
    assert "scripted:&lt;b&gt;model&lt;/b&gt;\\|two" in table  # literal in any Markdown viewer
    assert "<b>model</b>" not in html and "scripted:&lt;b&gt;model&lt;/b&gt;|two" in html
    assert "Carry on with scripted:base-model" in table


def test_damaged_and_foreign_files_are_skipped_not_fatal(project, capsys):
    save_baseline(project, "model-a", "zero-shot", 4)
    (project.baseline_dir / "folder.json").mkdir()  # not a file
    (project.baseline_dir / "broken.json").write_text("{not json", encoding="utf-8")
    (project.baseline_dir / "list.json").write_text("[1, 2]", encoding="utf-8")
    (project.baseline_dir / "short.json").write_text(json.dumps({"val_sha256": "x", "predictions": ["a"]}), encoding="utf-8")
    save_run(project, "20261207-100000-aaaa", "model-a", 6)
    (project.runs_dir / "20261207-100000-aaaa" / "eval" / "predictions.json").unlink()
    (project.runs_dir / "20261207-100000-aaaa" / "eval" / "predictions.json").mkdir()
    rows = compare_json(project, capsys)
    assert [(row["rank"], row["variant"] or row["run"]) for row in rows] == [(1, "zero-shot"), (None, "20261207-100000-aaaa")]


def test_without_a_split_the_comparison_says_how_to_make_one(workspace, capsys):
    assert main(["--project", str(workspace.root), "runs", "--compare", "--json"]) == 2
    err = capsys.readouterr().err
    assert "No validation split" in err and "tuneui data split" in err and "Traceback" not in err


def test_json_without_compare_is_refused(project, capsys):
    assert main(["--project", str(project.root), "runs", "--json"]) == 2
    assert "--json goes with --compare" in capsys.readouterr().err


def test_a_model_folder_is_one_candidate_however_it_was_named(project, capsys):
    (project.root / "tiny").mkdir()
    save_baseline(project, str(project.root / "tiny"), "zero-shot", 3)
    save_run(project, "20261207-100000-aaaa", "tiny", 4)
    rows = compare_json(project, capsys)
    assert {row["model"] for row in rows} == {"local:./tiny"}


def test_within_noise_a_prompt_that_needs_no_training_is_the_cheaper_choice():
    text = advice([entry("local:big", 21, dollars=0.0, seconds=600), entry("local:small", 20, kind="baseline")], "accuracy")
    assert "within noise" in text
    assert "Carry on with local:small, whose local:small-baseline prompt needs no fine-tuning at all" in text
