"""Issue 21's walk: a new user's own project, from a CSV with no system prompt, no model set and
no API key, to a verdict, using only what the screen offers (Pilot, at 80x24).

Every step runs for real, as the app runs it (its headless command in a child process), on a
tiny random-weight model: this test is about the guide, not about the model's answers.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tuneui.app import create_app
from tuneui.core.settings import Settings
from tuneui.core.workspace import init_workspace

from .screen_text import assert_fits, conversation_text, screen_text, talk_text

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SIGN_OFF = "Thanks, the Bike Hut team"
QUESTIONS = ["When do you open on {day}?", "Do you fix {thing}?", "How much is a new {thing}?"]
DAYS, THINGS = ["Monday", "Tuesday", "Friday", "Sunday"], ["chain", "brake", "tyre", "wheel", "saddle", "pedal"]


def _csv(path: Path) -> Path:
    rows = ["question,answer"]
    for n in range(62):
        question = QUESTIONS[n % 3].format(day=DAYS[n % 4], thing=THINGS[n % 6]) + f" (ticket {n})"
        rows.append(f'"{question}","We can help with that, ticket {n}. {SIGN_OFF}"')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _said_and_offered(app) -> str:
    """The conversation so far and the answers offered now: what a person can read and pick."""
    from tuneui.widgets.conversation import ChoiceLabel

    offered = [str(label.render()) for label in app.screen_stack[0].query(ChoiceLabel)]
    return conversation_text(app) + "\n" + "\n".join(offered)


async def _until(pilot, *texts: str, timeout: float = 90.0, where=_said_and_offered) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        said = where(pilot.app)
        if all(text in said for text in texts):
            for _ in range(3):
                await pilot.pause()
            return said
        await pilot.pause(0.2)
    raise AssertionError(f"waited {timeout:.0f}s for {texts!r}; the screen shows:\n{screen_text(pilot.app)}")


async def _answer(pilot, text: str) -> None:
    assert_fits(pilot.app)  # at every answer of the walk, 80x24 cuts nothing
    await pilot.press(*text, "enter")
    await pilot.pause()


async def _pick(pilot, label: str) -> None:
    """Type the number the screen shows beside an offered answer, as a person would."""
    from tuneui.widgets.conversation import ChoiceLabel

    offered = [str(choice.render()).strip() for choice in pilot.app.screen_stack[0].query(ChoiceLabel)]
    number = next(text.split(".")[0] for text in offered if text.split(". ", 1)[1] == label)
    await _answer(pilot, number)


def _last_question(app) -> str:
    return conversation_text(app).rsplit("\n", 1)[-1]


async def test_a_new_project_walks_from_a_csv_to_a_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from backends.local.tiny import build_tiny_model

    monkeypatch.setattr("tuneui.core.secrets._from_keyring", lambda name: None)
    monkeypatch.setattr("tuneui.guide.questions._IN_KEYRING", {})
    source = _csv(tmp_path / "my-tickets.csv")
    before = source.read_bytes()
    model = build_tiny_model(tmp_path / "tiny", [line for line in source.read_text(encoding="utf-8").splitlines()])
    settings = Settings()
    settings.project.name = "Bike Hut"
    settings.local.time_budget_minutes = 0.2
    workspace = init_workspace(tmp_path / "bike-hut", settings)
    app = create_app(workspace, train_steps=4)
    async with app.run_test(size=(80, 24)) as pilot:
        await _until(pilot, "Where are your examples?")
        await _answer(pilot, str(source))
        await _until(pilot, "Imported 62 examples", "Check the examples for problems")
        await _answer(pilot, "1")  # Check and split
        said = await _until(pilot, "Fix 62× system")
        assert "Split now" in said
        await _pick(pilot, "Fix 62× system")
        await _until(pilot, "Type the system prompt")
        await _answer(pilot, "You answer Bike Hut's customers, briefly.")
        said = await _until(pilot, "Save this change to the project's copy")
        assert '[project] system_prompt = "You answer Bike Hut\'s customers, briefly."' in said
        await _answer(pilot, "1")  # Save it
        await _until(pilot, "Saved: 62 lines of all.jsonl changed")
        assert source.read_bytes() == before, "the user's own file is never changed"
        await _answer(pilot, "1")  # Check and split, again: no missing system prompt now
        said = await _until(pilot, "Split now", "0 errors")
        assert "Fix 62× system" not in said.rsplit("0 errors", 1)[-1]
        await _answer(pilot, "1")  # Split now
        said = await _until(pilot, "Which model?")
        assert "needs a model to start from" in said and "free, trains on a CPU" in said
        await _answer(pilot, str(model))  # "or type a local folder"
        said = await _until(pilot, "Add these rules to tuneui.toml?")
        assert f'[models] local = "{model}"' in said
        assert f'ends_with = "{SIGN_OFF}"' in said
        await _answer(pilot, "1")  # Add these rules
        await _until(pilot, "Run it?")
        assert workspace.settings().rules["ending"] == {"ends_with": SIGN_OFF}
        await _answer(pilot, "1")  # Run the baseline
        await _until(pilot, "answer ", where=lambda app: screen_text(app), timeout=300)
        await _until(pilot, "Baseline saved", timeout=600)
        await _until(pilot, "See what training costs")
        await _answer(pilot, "1")  # Estimate the cost
        await _until(pilot, "Start a training run", timeout=300)
        assert "Estimate the cost first" not in _last_question(app)
        await _answer(pilot, "1")  # Start training
        await _until(pilot, "succeeded after", timeout=600)
        assert_fits(app)  # the Train view it opened
        await pilot.press("escape")
        await _until(pilot, "Compare the tuned model", where=talk_text)
        await _answer(pilot, "1")  # Evaluate
        said = await _until(pilot, "Next: Export", timeout=600)
        assert "No judge ran: ROUGE-L counts shared words" in said
        assert "/report writes the report" in said
        await _answer(pilot, "3")  # Write the report
        said = await _until(pilot, "Report written:", timeout=120)
        assert list((workspace.root / "reports").glob("*.html"))
        await _answer(pilot, "2")  # Open the verdict
        await pilot.pause()
        assert type(app.screen).__name__ == "EvaluateScreen"
        assert_fits(app)
    assert source.read_bytes() == before
