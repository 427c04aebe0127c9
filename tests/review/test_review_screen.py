"""The Review view in the app (Pilot): blind votes on the demo's 22 held-out examples, quit and
resume, undo and skip, 80x24, literal text, and the ways to reach it."""

from __future__ import annotations

import csv
import io
import shutil

import pytest

from tuneui.app import create_app
from tuneui.cli import main
from tuneui.core.review_csv import COLUMNS
from tuneui.screens.review import ReviewScreen
from tuneui.steps.review import current_verdict, human_for_run, open_review, read_saved

from tests.review.reviewkit import RUN_ID, demo_project, write_evaluated_run

SMALL = (80, 24)
KEYS = {"A": "1", "B": "2", "tie": "equals_sign"}


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def _app(workspace, reviewer: str = "ann"):
    return create_app(workspace, first_view=lambda ws: ReviewScreen(ws, RUN_ID, reviewer))


def _choice(key: str) -> str:
    """What this test's reviewer thinks of a pair: fixed per pair, whichever side it is shown on."""
    return ("A", "B", "tie")[int(key, 16) % 3]


def _votes(workspace) -> list:
    return open_review(workspace, RUN_ID).store.read()[1]


@pytest.fixture
def twins(tmp_path):
    """Two copies of the evaluated demo project with the same stored layout."""
    first = demo_project(tmp_path / "first")
    write_evaluated_run(first, judge=["win", "loss", "tie"] * 7 + ["win"])
    review = open_review(first, RUN_ID)
    review.store.layout_for(review.pairs, seed=5)
    shutil.copytree(first.root, tmp_path / "second", symlinks=True)
    return first, type(first)(tmp_path / "second")


async def _vote_on(app, pilot, count: int, workspace) -> None:
    for _ in range(count):
        screen = app.screen
        before = len(_votes(workspace))
        await pilot.press(KEYS[_choice(screen.session.current.key)])
        assert len(_votes(workspace)) == before + 1, "every vote is on disk at once"


async def test_quit_and_resume_halfway_gives_the_result_of_one_sitting(twins) -> None:
    halves, whole = twins
    app = _app(halves)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert "1 of 22" in screen_text(app)
        await _vote_on(app, pilot, 11, halves)
        await pilot.press("ctrl+q")
    app = _app(halves)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert "12 of 22" in screen_text(app), "it resumes at the first pair without a vote"
        await _vote_on(app, pilot, 11, halves)
        assert "Every pair has your vote" in screen_text(app)
    app = _app(whole)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        await _vote_on(app, pilot, 22, whole)
    resumed, sitting = human_for_run(halves, RUN_ID), human_for_run(whole, RUN_ID)
    assert resumed.votes == 22 and resumed.reviewers == {"ann": 22}
    assert resumed.summary() == sitting.summary()
    # 22 of 22 examples have votes: people's result now leads the verdict.
    result = read_saved(halves.run_dir(RUN_ID) / "eval" / "result.json")
    assert "people's blind review" in current_verdict(result, resumed).split(". Beside it")[0]


async def test_skip_and_undo(twins) -> None:
    workspace, _ = twins
    app = _app(workspace)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        screen = app.screen
        first = screen.session.current
        await pilot.press("s")
        assert "1 of 22 · 1 skipped" in screen_text(app)
        second = screen.session.current
        await pilot.press("1")
        assert "2 of 22 · 1 skipped" in screen_text(app)
        await pilot.press("u")
        assert screen.session.current == second and "1 of 22 · 1 skipped" in screen_text(app)
        await pilot.press("u")
        assert screen.session.current == first and "1 of 22" in screen_text(app) and "skipped" not in screen_text(app)
        await pilot.press("u")  # nothing left to undo: said, not fatal
        assert app.is_running and [v.choice for v in _votes(workspace)] == []


async def test_the_view_fits_80x24_and_long_answers_scroll(tmp_path) -> None:
    workspace = demo_project(tmp_path / "demo")
    long = "\n".join(f"Line {n} of a very long answer." for n in range(60))
    write_evaluated_run(workspace, tuned=[long] * 22)
    app = _app(workspace)
    async with app.run_test(size=SMALL) as pilot:
        # The footer draws after the first frame; on a loaded machine one pause may come before it.
        for _ in range(100):
            await pilot.pause(0.05)
            if "A better" in screen_text(app):
                break
        text = screen_text(app)
        lines = text.splitlines()
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        for words in ("1 of 22", "request", "A better", "B better", "= tie", "s skip", "u undo", "r ref", "esc back", "ann"):
            assert words in text, f"{words!r} is not on the 80x24 screen:\n{text}"
        assert "Line 0 of a very long answer." in text and "Line 59 of" not in text
        screen = app.screen
        side = "#review-a" if screen.session.shown()[0] == long else "#review-b"
        column = screen.query_one(side)
        assert column.max_scroll_y > 0
        column.focus()
        await pilot.press("end")
        await pilot.pause()
        assert "Line 59 of a very long answer." in screen_text(app), "the long answer scrolls to its end"
        reference = screen.session.current.reference.split()[:4]
        shown = "reference  " + " ".join(reference)
        assert shown not in screen_text(app), "the reference stays hidden until asked for"
        await pilot.press("r")
        assert shown in screen_text(app)
        await pilot.press("r")
        assert shown not in screen_text(app)


async def test_answers_are_shown_literally(tmp_path) -> None:
    workspace = demo_project(tmp_path / "demo")
    write_evaluated_run(workspace, tuned=["[red]x[/red] \x1b]0;TITLE\x07 [/bold]"] * 22)
    app = _app(workspace)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "[red]x[/red] ␛]0;TITLE␇ [/bold]" in text and "\x1b" not in text


async def test_review_is_reached_from_the_guide_a_key_and_the_palette(twins) -> None:
    from tuneui.steps.step_table import REVIEW

    workspace, _ = twins
    app = create_app(workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        commands = [command.title for command in app.get_system_commands(app.screen)]
        assert f"Open {REVIEW.name}" in commands
        app.converse(REVIEW.command)
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen) and "1 of 22" in screen_text(app)
        await pilot.press("1")
        await pilot.press("escape")
        await pilot.pause()
        guide = screen_text(app)
        assert "People's blind review: 1 votes" in guide, "back in the guide, a card of the votes so far"
        assert "21 more" in guide
        await pilot.press(REVIEW.key)
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen) and "2 of 22" in screen_text(app)


async def test_review_before_any_evaluation_says_what_to_do(tmp_path) -> None:
    from tuneui.steps.step_table import REVIEW

    workspace = demo_project(tmp_path / "demo")
    app = create_app(workspace)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        await pilot.press(REVIEW.key)
        await pilot.pause()
        assert "No evaluated run to review yet" in screen_text(app)


async def test_the_csv_round_trip_equals_the_same_votes_in_the_app(twins, tmp_path, capsys) -> None:
    in_app, by_csv = twins
    app = _app(in_app)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        await _vote_on(app, pilot, 22, in_app)
    target = tmp_path / "pairs.csv"
    assert main(["--project", str(by_csv.root), "review", RUN_ID, "--export", str(target)]) == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"), newline="")))
    for row in rows:
        row["vote"] = _choice(row["pair"])
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    target.write_text(out.getvalue(), encoding="utf-8")
    assert main(["--project", str(by_csv.root), "review", RUN_ID, "--import", str(target), "--reviewer", "ann"]) == 0
    assert human_for_run(by_csv, RUN_ID).summary() == human_for_run(in_app, RUN_ID).summary()


async def test_the_evaluate_view_shows_people_and_opens_the_review(twins, monkeypatch) -> None:
    from tuneui.core.review import Vote
    from tuneui.steps.step_table import EVALUATE
    from tuneui.viewmodels.cards import eval_card

    workspace, _ = twins
    monkeypatch.setenv("TUNEUI_REVIEWER", "ann")  # the app's reviewer, opened from the guide
    review = open_review(workspace, RUN_ID)
    layout = review.store.layout_for(review.pairs)
    review.store.add([Vote(p.key, "ann", layout.tuned_side[p.key], layout.tuned_side[p.key], 1.0) for p in review.pairs])
    app = create_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(EVALUATE.key)
        await pilot.pause()
        text = screen_text(app)
        assert "tuned beats the 3-shot prompt in people's blind review: preferred in 22 of 22 votes" in text
        assert "people: 22 votes: tuned better 22" in text
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen) and "Every pair has your vote" in screen_text(app)
    card = eval_card({"metrics": {}, "verdict": "v", "human": human_for_run(workspace, RUN_ID).summary()})
    assert ("people's win rate", "", "1.000 [1.000, 1.000], 22 votes") in card.rows


async def test_a_vote_the_disk_refuses_is_said_and_the_pair_stays(twins, monkeypatch) -> None:
    import errno

    from tuneui.steps.review import VoteStore

    workspace, _ = twins

    def full(self, votes):
        raise OSError(errno.ENOSPC, "No space left on device")

    app = _app(workspace)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        shown = app.screen.session.current
        monkeypatch.setattr(VoteStore, "add", full)
        await pilot.press("1")
        await pilot.pause()
        assert app.screen.session.current == shown and "1 of 22" in screen_text(app)
        assert "The vote was not saved" in " ".join(str(n.message) for n in app._notifications)
        monkeypatch.undo()
        await pilot.press("1")
        assert "2 of 22" in screen_text(app) and len(_votes(workspace)) == 1
