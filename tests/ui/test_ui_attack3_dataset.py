"""Two apps on one project (issue 24, finding 5): the Dataset view, showing a file another app has
since saved, refuses to write its stale copy over that edit, says so, and shows the file as it is.
And the view lists the token-based warnings `tuneui data check` reports ("Also seen")."""

from __future__ import annotations

from textual.widgets import DataTable

from tuneui.app import create_app

from .conftest import chat_line, examples, write_imported
from .test_ui_literal import screen_text

BIG = (140, 45)


async def _settle(pilot, app) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_a_save_over_another_apps_edit_is_refused_and_the_view_rereads(project) -> None:
    path = write_imported(project, examples(4), name="all.jsonl")
    app = create_app(project)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        # The other app deletes the last example and saves, while this one shows four.
        path.write_text("\n".join(examples(3)) + "\n", encoding="utf-8")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press(*" (mine)")
        await pilot.press("ctrl+s")
        await _settle(pilot, app)
        shown = screen_text(app)
        assert "changed on disk since this view read it" in shown and "not saved" in shown
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) == 3 and not any("(mine)" in line for line in lines), "the other app's edit stands"
        assert app.screen.query_one(DataTable).row_count == 3, "the view shows the file as it is now"


async def test_a_save_on_an_unchanged_file_goes_through(project) -> None:
    path = write_imported(project, examples(4), name="all.jsonl")
    app = create_app(project)
    async with app.run_test(size=BIG, notifications=True) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press(*" (mine)")
        await pilot.press("ctrl+s")
        await _settle(pilot, app)
        assert "Saved all.jsonl" in screen_text(app)
        assert "(mine)" in path.read_text(encoding="utf-8")


async def test_the_view_lists_too_long_and_length_outlier(project) -> None:
    lines = examples(24) + [chat_line("Tell me everything.", "word " * 400), chat_line("And more.", "word " * 70_000)]
    write_imported(project, lines, name="all.jsonl")
    app = create_app(project)
    async with app.run_test(size=BIG) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        snapshot = app.screen.snapshot
        assert {(25, "length_outlier"), (26, "too_long")} <= {(f.line, f.code) for f in snapshot.findings}
        assert "too_long" in snapshot.codes() and "length_outlier" in snapshot.codes()
