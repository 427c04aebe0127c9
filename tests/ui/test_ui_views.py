"""Pilot tests of each full view: what a user sees and what their keys change on disk."""

from __future__ import annotations

import json
from typing import Iterator

import pytest
from textual.widgets import DataTable, Input, Select, Static, TextArea

from tuneui.core.backend import Backend
from tuneui.app import create_app

from .conftest import chat_line, examples, write_imported, write_run

SMALL = (80, 24)


async def _settle(pilot, app) -> None:
    """Wait for the view's reading and checking, which runs in a thread."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


@pytest.fixture
def dataset_project(project):
    lines = examples(10)
    write_imported(project, lines, name="all.jsonl")
    return project


async def test_dataset_search_and_filter_by_finding(dataset_project) -> None:
    lines = examples(10) + [chat_line("When are you open? (#0)", "We never close.")]
    write_imported(dataset_project, lines, name="all.jsonl")
    app = create_app(dataset_project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        screen = app.screen
        table = screen.query_one(DataTable)
        assert table.row_count == 11
        assert "contradiction" in str(screen.query_one(Select)._options)
        screen.query_one(Select).value = "contradiction"
        await pilot.pause()
        assert table.row_count == 1
        assert table.get_row_at(0)[0] == "11", "the example that contradicts an earlier one, by its line"
        screen.query_one(Select).clear()
        await pilot.press("slash", *"tune-up")
        await pilot.pause()
        assert table.row_count == 2
        assert "showing 2" in _text(screen, "#dataset-title")


async def test_dataset_edit_saves_atomically_and_rechecks(dataset_project) -> None:
    path = dataset_project.data_dir / "all.jsonl"
    app = create_app(dataset_project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        areas = list(app.screen.query(TextArea))
        assert [area.text for area in areas][1] == "When are you open? (#0)"
        areas[2].text = "Tuesday to Saturday, 9 to 6."
        await pilot.press("ctrl+s")
        await _settle(pilot, app)
        first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
        assert first["messages"][2]["content"] == "Tuesday to Saturday, 9 to 6."
        assert not list(dataset_project.data_dir.glob(".*.tmp")), "no temp file left behind"


async def test_dataset_duplicate_is_found_at_once_and_delete_removes_it(dataset_project) -> None:
    path = dataset_project.data_dir / "all.jsonl"
    app = create_app(dataset_project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        screen = app.screen
        await pilot.press("d")
        await _settle(pilot, app)
        assert len(path.read_text().splitlines()) == 11
        assert "duplicate" in screen.snapshot.codes()
        table = screen.query_one(DataTable)
        assert str(table.get_row_at(1)[3]) == "duplicate", "the copy is flagged on its own row"
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await _settle(pilot, app)
        assert len(path.read_text().splitlines()) == 10
        assert "duplicate" not in screen.snapshot.codes()


async def test_dataset_add_appends_a_new_example(dataset_project) -> None:
    path = dataset_project.data_dir / "all.jsonl"
    app = create_app(dataset_project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f2")
        await _settle(pilot, app)
        await pilot.press("a")
        await pilot.pause()
        areas = list(app.screen.query(TextArea))
        assert [area.text for area in areas][0].startswith("You answer support questions")
        areas[1].text = "Do you sell helmets?"
        areas[2].text = "Yes, from £30."
        await pilot.press("ctrl+s")
        await _settle(pilot, app)
        last = json.loads(path.read_text(encoding="utf-8").splitlines()[-1])
        assert [m["content"] for m in last["messages"]][1:] == ["Do you sell helmets?", "Yes, from £30."]


async def test_train_view_shows_progress_and_warns_of_overfitting(project) -> None:
    losses = [(10, 3.0, 2.0), (20, 2.5, 1.8), (30, 2.0, 1.9), (40, 1.5, 2.1)]
    write_run(project, status="running", losses=losses, total_steps=80)
    app = create_app(project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        stats = _text(app.screen, "#run-stats")
        assert "40/80" in stats and "1,200" in stats and "best step 20" in stats
        assert "ETA 0m40s" in stats
        assert "Overfitting" in _text(app.screen, "#run-warning")


async def test_train_view_shows_the_plan_and_its_reasons(project) -> None:
    from tuneui.core.backend import TrainSpec
    from backends.runs import RunFolder

    plan = {"learning_rate": 0.001, "steps": 24, "epochs": 0.75, "batch_size": 4, "max_length": 320, "lora_r": 16,
            "lora_alpha": 32, "minutes": 1.8, "reasons": ["learning rate 0.001: LoRA's rate for a model of hidden size 576"]}
    spec = TrainSpec(run_id="20261123-130000-abcd", backend="local", model="models/tiny",
                     train_file=str(project.train_file), options={"plan": plan})  # fmt: skip
    RunFolder.create(project.runs_dir, spec).write_status(status="running")
    app = create_app(project)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        shown = _text(app.screen, "#run-plan")
        assert "24 steps (0.75 epochs), learning rate 0.001" in shown and "LoRA r 16 alpha 32" in shown
        assert "hidden size 576" in shown


async def test_train_view_without_runs_says_how_to_start_one(project) -> None:
    app = create_app(project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        assert "/train" in _text(app.screen, "#run-title")


async def test_evaluate_view_puts_the_verdict_on_top_and_compares_answers(finished_project) -> None:
    app = create_app(finished_project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        screen = app.screen
        assert _text(screen, "#verdict").startswith("tuned beats the 3-shot prompt")
        assert screen.query_one(DataTable).row_count == 2
        assert "Tuesday to Saturday 9-6." in _text(screen, "#eval-request")
        assert "tuned better" in _text(screen, "#eval-request")
        assert "A gives the real opening hours; B invents them." in _text(screen, "#eval-request")
        assert "We are open every day." in _text(screen, "#eval-baseline")
        await pilot.press("down")
        await pilot.pause()
        assert "It costs £60." in _text(screen, "#eval-baseline")
        assert "A tune-up is £45." in _text(screen, "#eval-tuned")


class EchoBackend(Backend):
    """Streams back what it was told, tagged by which model answered: enough for the Chat view."""

    name = "echo"
    supports_streaming = True

    def __init__(self, workspace) -> None:
        self.workspace = workspace

    def stream(self, model, conversation, params=None) -> Iterator[str]:
        who = "tuned" if model.kind == "adapter" else "base"
        for word in (who, " heard: ", conversation[-1]["content"]):
            yield word

    def generate(self, model, conversations, params=None):
        return ["".join(self.stream(model, c)) for c in conversations]

    check = estimate = start = events = status = cancel = result = None  # type: ignore[assignment]


async def test_chat_streams_base_and_tuned_side_by_side(finished_project, monkeypatch) -> None:
    import tuneui.core.providers

    monkeypatch.setattr(tuneui.core.providers, "get_backend", lambda name, workspace: EchoBackend(workspace))
    app = create_app(finished_project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f6")
        await pilot.pause()
        await pilot.press(*"hello", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "base heard: hello" in _text(app.screen, "#chat-base-log")
        assert "tuned heard: hello" in _text(app.screen, "#chat-tuned-log")
        assert app.screen.query_one(Input).value == ""


async def test_cost_view_lists_each_backend_with_its_price_date(finished_project) -> None:
    app = create_app(finished_project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert rows[1] == ["openai", "gpt-4o-mini-2024-07-18", "$0.42"]
        # Notes are sentences: under the table, wrapped, never cut at its edge (issue 21).
        assert "openai: prices as of 2026-11-01" in str(app.screen.query_one("#cost-notes", Static).render())


async def test_train_view_cancels_the_run_it_shows(project) -> None:
    from .scripted import ScriptedRunner

    folder = write_run(project, status="running")
    app = create_app(project)
    app.runner = ScriptedRunner(project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await app.workers.wait_for_complete()
        assert app.runner.calls == [f"cancel {folder.run_id}"]


async def test_leave_it_running_quits_the_app(project) -> None:
    write_run(project, status="running")
    app = create_app(project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("l")
        await pilot.pause()
        assert not app.is_running


async def test_evaluate_view_pairs_with_the_baseline_the_evaluation_used(finished_project) -> None:
    """`tuneui baseline --shots 1` re-run after the evaluation points best.json at a new file; the
    view still shows the answers of the 3-shot file the evaluation compared against."""
    from backends.runs import list_runs
    from tuneui.core.files import atomic_write_json

    folder = list_runs(finished_project.runs_dir)[-1]
    fingerprint = "f" * 64
    atomic_write_json(folder.eval_dir / "predictions.json", {"predictions": [f"tuned {n}" for n in range(5)], "val_sha256": fingerprint})
    atomic_write_json(finished_project.baseline_dir / "local-tiny-3shot.json", {"predictions": [f"three-shot {n}" for n in range(5)]})
    atomic_write_json(finished_project.baseline_dir / "local-tiny-1shot.json", {"predictions": [f"one-shot {n}" for n in range(5)]})
    result = json.loads((folder.eval_dir / "result.json").read_text())
    atomic_write_json(folder.eval_dir / "result.json", {**result, "baseline_file": "local-tiny-3shot.json"})
    key = f"local:models/tiny@{fingerprint[:12]}"
    atomic_write_json(finished_project.baseline_dir / "best.json", {key: {"variant": "1-shot", "file": "local-tiny-1shot.json"}})
    app = create_app(finished_project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        assert app.screen.query_one(DataTable).row_count == 5, "every held-out example"
        assert "three-shot 0" in _text(app.screen, "#eval-baseline")
        assert "tuned 0" in _text(app.screen, "#eval-tuned")
