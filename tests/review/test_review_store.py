"""The votes on disk: atomic, shared by reviewers, damage reported, the CLI's ways in."""

from __future__ import annotations

import threading

import pytest

from tuneui.cli import main
from tuneui.core.review import Vote
from tuneui.guide.machine import Guide
from tuneui.steps.step_table import REVIEW
from tuneui.steps.review import human_for_run, open_review

from tests.review.reviewkit import RUN_ID, demo_project, write_evaluated_run


@pytest.fixture
def demo(tmp_path):
    workspace = demo_project(tmp_path / "demo")
    write_evaluated_run(workspace)
    return workspace


def test_two_reviewers_voting_at_once_lose_nothing(demo) -> None:
    review = open_review(demo, RUN_ID)
    layout = review.store.layout_for(review.pairs, seed=1)

    def vote_all(name: str) -> None:
        store = open_review(demo, RUN_ID).store  # each terminal its own store object
        for pair in review.pairs:
            store.add([Vote(pair.key, name, "A", layout.tuned_side[pair.key], 1.0)])

    threads = [threading.Thread(target=vote_all, args=(name,)) for name in ("ann", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert human_for_run(demo, RUN_ID).reviewers == {"ann": 22, "bob": 22}
    assert not list(review.store.path.parent.glob(".*.tmp")), "no temp file left behind"


def test_a_new_evaluation_with_other_answers_keeps_the_seed_and_counts_only_current_votes(demo, tmp_path) -> None:
    review = open_review(demo, RUN_ID)
    layout = review.store.layout_for(review.pairs, seed=9)
    review.store.add([Vote(pair.key, "ann", "tie", layout.tuned_side[pair.key], 1.0) for pair in review.pairs])
    answers = (demo.run_dir(RUN_ID) / "eval" / "predictions.json")
    text = answers.read_text(encoding="utf-8")
    answers.write_text(text.replace("Keep rolling,", "Keep rolling!", 3), encoding="utf-8")
    again = open_review(demo, RUN_ID)
    changed = sum(1 for old, new in zip(review.pairs, again.pairs) if old.key != new.key)
    assert changed >= 1
    redrawn = again.store.layout_for(again.pairs)
    assert redrawn.seed == 9 and redrawn != layout
    kept = [pair.key for pair in again.pairs if pair.key in layout.tuned_side]
    assert kept and all(redrawn.tuned_side[key] == layout.tuned_side[key] for key in kept), "an unchanged pair keeps its side"
    assert human_for_run(demo, RUN_ID).votes == 22 - changed


def test_a_damaged_review_file_is_named_with_the_fix(demo, capsys) -> None:
    path = demo.run_dir(RUN_ID) / "eval" / "review.json"
    path.write_text('{"version": 1, "layout": null, "votes": [{"key": "x"}]}', encoding="utf-8")
    assert main(["--project", str(demo.root), "review", RUN_ID, "--export", str(demo.root / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "review.json is damaged" in err and "hint:" in err and "Traceback" not in err
    assert main(["--project", str(demo.root), "report", RUN_ID]) == 2
    assert "review.json is damaged" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["", "a\x1b]0;x\x07", "x" * 65])
def test_a_reviewer_name_that_is_no_name_is_refused(demo, capsys, name) -> None:
    assert main(["--project", str(demo.root), "review", RUN_ID, "--reviewer", name, "--export", str(demo.root / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "is not a reviewer's name" in err and "\x1b" not in err
    assert not (demo.root / "x.csv").exists()


def test_the_reviewer_defaults_to_tuneui_reviewer_then_the_login_name(monkeypatch) -> None:
    from tuneui.core.review import default_reviewer

    monkeypatch.setenv("TUNEUI_REVIEWER", "  zoe ")
    assert default_reviewer() == "zoe"
    monkeypatch.delenv("TUNEUI_REVIEWER")
    monkeypatch.setattr("getpass.getuser", lambda: "kim")
    assert default_reviewer() == "kim"
    monkeypatch.setattr("getpass.getuser", lambda: (_ for _ in ()).throw(OSError("no login")))
    assert default_reviewer() == "reviewer"


def test_tuneui_review_run_opens_the_app_on_the_review(demo, monkeypatch) -> None:
    from tuneui import app as app_module
    from tuneui.screens.review import ReviewScreen

    opened = {}

    def fake_run_app(workspace, *, train_steps=None, first_view=None):
        opened["screen"] = first_view(workspace)
        return 0

    monkeypatch.setattr(app_module, "run_app", fake_run_app)
    assert main(["--project", str(demo.root), "review", RUN_ID, "--reviewer", "lee"]) == 0
    screen = opened["screen"]
    assert isinstance(screen, ReviewScreen) and (screen.run_id, screen.reviewer) == (RUN_ID, "lee")


def test_the_guide_opens_the_review_only_after_an_evaluation(tmp_path, demo) -> None:
    fresh = demo_project(tmp_path / "fresh")
    turn = Guide(fresh).command(REVIEW.command)
    assert turn.action is None and "evaluate a finished run first" in " ".join(turn.says)
    turn = Guide(demo).command(REVIEW.command)
    assert turn.action is not None and (turn.action.kind, turn.action.argument) == ("open", REVIEW.name)
