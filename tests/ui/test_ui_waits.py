"""Issue 21 on the screen (Pilot): a long step shows its progress as it goes, is never shown done
while it runs, can be cancelled; the guide's question follows the project after a view, a run's
end and an edit of tuneui.toml; the bulk fixes work from the app; at 80x24 nothing is cut."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from tuneui.app import TuneApp, create_app
from tuneui.core.files import atomic_write_json
from tuneui.guide.runner import StepResult
from tuneui.widgets.cards import CardView

from .conftest import examples, write_baseline, write_cost, write_evaluation, write_imported, write_run, write_split
from .screen_text import assert_fits, conversation_text, region_text, screen_text, talk_text
from .scripted import BASELINE, ScriptedRunner

SMALL = (80, 24)


class SlowBaseline(ScriptedRunner):
    """A baseline that reports its answers one gate at a time: the test says when it moves on."""

    def __init__(self, workspace, app: TuneApp) -> None:
        super().__init__(workspace)
        self.app = app
        self.gate = threading.Semaphore(0)

    def baseline(self, *options: str) -> StepResult:
        self.calls.append("baseline " + " ".join(options))
        for done in (0, 3, 6):
            self.app._progress_from_thread(f"progress: answer {done} of 6 (baseline, system)")
            self.gate.acquire()
            if self.cancel.is_set():
                return StepResult(False, title="`tuneui baseline` cancelled", hint="Saved answers are reused next time.")
        write_baseline(self.workspace)
        return StepResult(True, BASELINE, summary="Baseline saved.")


async def _until(pilot, condition, tries: int = 2000) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause()
    raise AssertionError("the screen never showed it:\n" + screen_text(pilot.app))


async def _shown(pilot) -> None:
    """Until the new lines are laid out and scrolled to (a frame or two)."""
    for _ in range(3):
        await pilot.pause()


def _sidebar_state(screen: str, step: str) -> str:
    lines = screen.splitlines()
    index = next(i for i, line in enumerate(lines) if re.search(rf"\b{step}\b", line[:20]))
    return lines[index + 1][:18].strip()


async def test_a_long_step_shows_its_count_and_is_never_done_while_it_runs(project) -> None:
    write_imported(project, examples(25), name="all.jsonl")
    write_split(project)
    write_baseline(project)  # done once: running it again must not show it "done" beside "running"
    app = create_app(project)
    runner = SlowBaseline(project, app)
    app.runner = runner
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert _sidebar_state(screen_text(app), "Baseline") == "done"
        await pilot.press(*"/baseline --shots 0", "enter")
        await _until(pilot, lambda: "answer 0 of 6" in screen_text(app))
        first = screen_text(app)
        assert _sidebar_state(first, "Baseline") == "running"
        assert "done" not in _sidebar_state(first, "Baseline")
        assert "Run the baseline" not in first
        runner.gate.release()
        await _until(pilot, lambda: "answer 3 of 6" in screen_text(app))
        second = screen_text(app)
        assert "answer 3 of 6" in second and "answer 0 of 6" not in second, "the progress line moves"
        assert _sidebar_state(second, "Baseline") == "running"
        await pilot.press(*"/help", "enter")
        await pilot.pause()
        helped = screen_text(app)
        assert "Baseline is running" in helped and "Run the baseline" not in helped, "/help offers no second baseline"
        await pilot.press(*"/baseline", "enter")
        await pilot.pause()
        assert runner.calls == ["baseline --shots 0"], "one step at a time"
        runner.gate.release()
        runner.gate.release()
        await app.workers.wait_for_complete()
        await pilot.pause()
        done = screen_text(app)
        assert _sidebar_state(done, "Baseline") == "done"
        assert "answer " not in done.splitlines()[-5], "the progress line goes with the step"


async def test_cancel_stops_the_running_step(project) -> None:
    write_imported(project, examples(25), name="all.jsonl")
    write_split(project)
    app = create_app(project)
    runner = SlowBaseline(project, app)
    app.runner = runner
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        await pilot.press("1", "enter")
        await _until(pilot, lambda: "answer 0 of 6" in screen_text(app))
        await pilot.press(*"/cancel", "enter")
        await pilot.pause()
        assert runner.cancel.is_set()
        runner.gate.release()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = screen_text(app)
        assert "cancelled" in screen
        assert _sidebar_state(screen, "Baseline") == "next"


async def test_the_question_follows_a_view_a_run_ending_and_an_edit_of_tuneui_toml(project, tmp_path: Path) -> None:
    write_imported(project, examples(25), name="all.jsonl")
    write_split(project)
    write_baseline(project)
    app = create_app(project)
    async with app.run_test(size=SMALL) as pilot:
        await _shown(pilot)
        assert "Estimate the cost" in talk_text(app)
        await pilot.press("f3")
        await _shown(pilot)
        write_cost(project)  # estimated while the view was open (its r key, or another terminal)
        await pilot.press("escape")
        await _shown(pilot)
        screen = talk_text(app)
        assert "Start a training run" in screen and "Estimate the cost first" not in screen
        text = project.config_path.read_text(encoding="utf-8")
        project.config_path.write_text(text.replace('local = "models/tiny"', 'local = ""'), encoding="utf-8")
        app.poll_workspace()
        await _shown(pilot)
        said = conversation_text(app).split("tuneui.toml changed.")
        assert len(said) == 2 and "Which model?" in said[1], "an edit that removes the model brings the question back"
        project.config_path.write_text(text, encoding="utf-8")
        app.poll_workspace()
        await _shown(pilot)
        said = conversation_text(app).split("tuneui.toml changed.")
        assert len(said) == 3 and "Start a training run" in said[2] and "Which model?" not in said[2]
        app.poll_workspace()
        await _shown(pilot)
        assert conversation_text(app).count("tuneui.toml changed.") == 2, "no news, no new question"
        folder = write_run(project, status="running")
        app.poll_workspace()
        await _shown(pilot)
        assert "Watch it?" in talk_text(app)
        folder.write_status(status="succeeded")
        app.poll_workspace()
        await _shown(pilot)
        screen = talk_text(app)
        assert "Compare the tuned model with the baseline" in screen, screen
        assert "Watch the run" not in screen.split("Compare the tuned model")[-1], "the stale offer is withdrawn"


def _without_system(count: int) -> list[str]:
    rows = [{"messages": [{"role": "user", "content": f"Question {n}?"}, {"role": "assistant", "content": f"Answer {n}."}]} for n in range(count)]
    return [json.dumps(row) for row in rows + rows[:1]]


async def test_the_bulk_fix_from_the_app_adds_the_system_prompt_with_an_undo(project, tmp_path: Path) -> None:
    text = project.config_path.read_text(encoding="utf-8")
    project.config_path.write_text(text.replace('system_prompt = "You answer support questions for Cadence Cycles."', 'system_prompt = ""'), encoding="utf-8")
    source = tmp_path / "mine.jsonl"
    source.write_text("\n".join(_without_system(61)) + "\n", encoding="utf-8")
    before = source.read_bytes()
    copy = write_imported(project, _without_system(61), name="all.jsonl")
    app = create_app(project)
    async with app.run_test(size=SMALL) as pilot:
        await _shown(pilot)
        await pilot.press(*"/fix system", "enter")
        await _shown(pilot)
        assert "Type the system prompt" in screen_text(app)
        await pilot.press(*"You answer for the shop.", "enter")
        await _shown(pilot)
        assert project.settings().project.system_prompt == "You answer for the shop."
        cards = app.screen.query(CardView)
        assert cards.last().card.title == "/fix system: 62 lines"
        assert copy.read_text(encoding="utf-8").count("You answer for the shop.") == 0, "nothing saved before the diff is accepted"
        await pilot.press("1", "enter")
        await _shown(pilot)
        assert copy.read_text(encoding="utf-8").count("You answer for the shop.") == 62
        await pilot.press(*"/fix duplicate", "enter")
        await _shown(pilot)
        await pilot.press("1", "enter")
        await _shown(pilot)
        assert len(copy.read_text(encoding="utf-8").splitlines()) == 61
        await pilot.press(*"/undo", "enter")
        await _shown(pilot)
        assert len(copy.read_text(encoding="utf-8").splitlines()) == 62
        assert "as it was before the last fix" in talk_text(app)
    assert source.read_bytes() == before


async def test_at_80x24_no_label_is_cut(finished_project) -> None:
    rows = [
        {"backend": "local", "model": "models/tiny", "method": "qlora", "fits": None, "hours": 0.01, "cost_usd": None,
         "advice": ["No NVIDIA GPU: the time is planned for this CPU, and a loaded machine can take 2 to 7 times longer."]},
        {"backend": "openai", "model": "gpt-4o-mini-2024-07-18", "cost_usd": 0.42, "price_as_of": "2026-11-01", "warnings": []},
    ]  # fmt: skip
    atomic_write_json(finished_project.reports_dir / "cost.json", {"rows": rows})
    result = finished_project.runs_dir / "20261123-120000-abcd" / "eval" / "result.json"
    evaluation = json.loads(result.read_text(encoding="utf-8"))
    evaluation["verdict"] = "tuned beats the 3-shot prompt on rouge_l: 0.52 vs 0.31 (95% interval 0.05 to 0.39, 22 examples)"
    evaluation["rules"] = {"baseline": {"passed": 1, "total": 2, "by_rule": {"sign-off": 1}}, "tuned": {"passed": 2, "total": 2, "by_rule": {"sign-off": 2}}}
    atomic_write_json(result, evaluation)
    app = create_app(finished_project)
    app.runner = ScriptedRunner(finished_project)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        main = screen_text(app)
        assert_fits(app)
        for step in ("Baseline", "Dataset", "Cost", "Train", "Evaluate"):
            assert _sidebar_state(main, step) == "done"
        advice = rows[0]["advice"][0]
        verdict = evaluation["verdict"]
        for key, words in (("f2", ("findings",)), ("f3", (advice,)), ("f4", ("Newer",)), ("f5", ("rules base → tuned", verdict))):
            await pilot.press(key)
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            screen = screen_text(app)
            assert_fits(app)
            joined = " ".join(screen.split())  # a wrapped note reads whole; a cut one does not
            for words_shown in words:
                assert re.search(rf"(^|\s){re.escape(words_shown)}(\s|$)", joined), f"{words_shown!r} is cut in the {key} view:\n{screen}"
            await pilot.press("escape")
            await pilot.pause()
        # The verdict card: a long title is written inside the card, where it wraps.
        from tuneui.guide.machine import Action

        app._say(app.guide.finished(Action("eval"), StepResult(True, {**evaluation, "verdict": verdict}, summary=verdict)))
        await pilot.pause()
        card = app.screen.query(CardView).last()
        assert card.long_title and not card.border_title
        for _ in range(3):
            await pilot.pause()
        assert verdict in region_text(app, card), "the whole verdict shows, wrapped inside its card"


class SlowEvaluation(ScriptedRunner):
    def __init__(self, workspace, app: TuneApp, folder) -> None:
        super().__init__(workspace)
        self.app, self.folder = app, folder
        self.gate = threading.Semaphore(0)

    def evaluate(self, run_id: str, *options: str) -> StepResult:
        self.calls.append(f"eval {run_id}")
        self.app._progress_from_thread("progress: answer 2 of 5 (tuned model)")
        self.gate.acquire()
        write_evaluation(self.workspace, self.folder)
        return StepResult(True, {"verdict": "tuned beats the 3-shot prompt on rouge_l: 0.52 vs 0.31", "judge": None}, summary="done")


async def test_the_evaluate_view_shows_the_progress_offers_no_second_run_and_then_the_verdict(project) -> None:
    write_imported(project, examples(25), name="all.jsonl")
    write_split(project)
    write_baseline(project)
    write_cost(project)
    folder = write_run(project, status="succeeded")
    app = create_app(project)
    runner = SlowEvaluation(project, app, folder)
    app.runner = runner
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        await pilot.press("1", "enter")  # Evaluate
        await _until(pilot, lambda: "answer 2 of 5" in screen_text(app))
        await pilot.press("f5")
        await _shown(pilot)
        screen = screen_text(app)
        assert "answer 2 of 5" in screen and "Evaluating: the verdict appears here" in screen
        assert "Re-evaluate" not in screen.splitlines()[-1], "no second evaluation is offered while one runs"
        await pilot.press("r")
        await pilot.pause()
        runner.gate.release()
        await app.workers.wait_for_complete()
        await _shown(pilot)
        assert runner.calls == [f"eval {folder.run_id}"], "r during the evaluation started nothing"
        screen = screen_text(app)
        assert "tuned beats the 3-shot prompt" in screen and "answer 2 of 5" not in screen
        assert "Re-evaluate" in screen.splitlines()[-1]
