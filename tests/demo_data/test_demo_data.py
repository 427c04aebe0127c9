"""The demo's sample project: well-formed, in one house voice, with exactly the problems its README plants."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from tuneui.core.settings import Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEMO = resources.files("tuneui").joinpath("data/demo")
SIGN_OFF = "\n\nKeep rolling,\nThe Cadence crew"
ROLES = {"system", "user", "assistant"}


def _records(name: str) -> list[dict]:
    text = DEMO.joinpath(name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def examples() -> dict[int, list[dict]]:
    """1-based line number -> that line's messages."""
    return {line: record["messages"] for line, record in enumerate(_records("examples.jsonl"), start=1)}


@pytest.fixture(scope="module")
def planted() -> dict[str, tuple[int, ...]]:
    """The problem lines as README.md documents them."""
    readme = DEMO.joinpath("README.md").read_text(encoding="utf-8")

    def lines_after(label: str) -> tuple[int, ...]:
        match = re.search(rf"\*\*{label}: ([^*]+)\*\*", readme)
        assert match, f"README.md does not document the {label.lower()}"
        return tuple(int(number) for number in re.findall(r"\d+", match.group(1)))

    return {
        "contradiction": lines_after("Contradiction"),
        "duplicate": lines_after("Exact duplicate"),
        "inconsistent_system": lines_after("Inconsistent system prompt"),
    }


@pytest.fixture(scope="module")
def settings() -> Settings:
    with DEMO.joinpath("tuneui.toml").open("rb") as handle:
        return Settings.from_dict(tomllib.load(handle))


def _answers(messages: list[dict]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "assistant"]


def _user_text(messages: list[dict]) -> str:
    return "\n".join(m["content"] for m in messages if m["role"] == "user")


def _words(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def test_every_line_is_a_chat_conversation(examples) -> None:
    assert 140 <= len(examples) <= 160
    assert len(DEMO.joinpath("examples.jsonl").read_bytes()) < 150_000
    for line, messages in examples.items():
        roles = [m["role"] for m in messages]
        assert set(roles) <= ROLES, f"line {line}"
        assert roles[0] == "system", f"line {line}"
        # After the system prompt, user and assistant take turns and the assistant has the last word.
        assert roles[1:] == ["user", "assistant"] * ((len(roles) - 1) // 2), f"line {line}: {roles}"
        assert all(isinstance(m["content"], str) and m["content"].strip() for m in messages), f"line {line}"


def test_every_answer_is_in_the_house_voice(examples) -> None:
    for line, messages in examples.items():
        for answer in _answers(messages):
            assert answer.endswith(SIGN_OFF), f"line {line} does not sign off"
            assert "Next step:" in answer, f"line {line} gives no next step"
            assert 20 <= len(answer.split()) <= 90, f"line {line}: {len(answer.split())} words"


def test_the_duplicate_is_character_for_character(examples, planted) -> None:
    first, second = planted["duplicate"]
    assert examples[first] == examples[second]
    everything = [json.dumps(messages) for messages in examples.values()]
    assert [count for count in Counter(everything).values() if count > 1] == [2], "exactly one duplicated example"


def test_the_contradiction_asks_the_same_question_with_another_answer(examples, planted) -> None:
    first, second = planted["contradiction"]
    assert _user_text(examples[first]) != _user_text(examples[second])
    assert _words(_user_text(examples[first])) == _words(_user_text(examples[second]))
    assert "30 days" in _answers(examples[first])[-1]
    assert "14 days" in _answers(examples[second])[-1]


def test_only_the_documented_examples_use_another_system_prompt(examples, planted, settings) -> None:
    systems = {line: messages[0]["content"] for line, messages in examples.items()}
    house = Counter(systems.values()).most_common(1)[0][0]
    assert house == settings.project.system_prompt
    assert tuple(line for line, system in systems.items() if system != house) == planted["inconsistent_system"]


def test_the_settings_describe_a_freetext_task_and_leave_the_local_model_to_the_demo(settings) -> None:
    assert settings.project.task_type == "freetext"
    assert "Cadence Cycles" in settings.project.name
    assert "30 days" in settings.project.task and "Keep rolling" in settings.project.task
    assert settings.models.local == ""


def test_the_dataset_check_finds_exactly_the_planted_problems(planted) -> None:
    try:
        from tuneui.core.dataset import check
    except ImportError:
        pytest.skip("tuneui.core.dataset.check is not available yet")
    with resources.as_file(DEMO.joinpath("examples.jsonl")) as path:
        report = check(Path(path))
    assert report.errors == ()
    found = {(item.code, item.line) for item in report.warnings}
    expected = {
        ("contradiction", planted["contradiction"][1]),
        ("duplicate", planted["duplicate"][1]),
        *(("inconsistent_system", line) for line in planted["inconsistent_system"]),
    }
    assert found == expected
