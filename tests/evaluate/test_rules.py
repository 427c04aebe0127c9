"""Task rules (tuneui.core.rules): each check, the [rules] settings errors, hostile patterns."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tuneui.cli import main
from tuneui.core.rules import Rule, check_answers, parse_rules, pass_rate
from tuneui.core.settings import Settings, SettingsError
from tuneui.errors import TuneError

DEMO = Path(__file__).resolve().parents[2] / "tuneui" / "data" / "demo"


def _rule(**check) -> Rule:
    (rule,) = parse_rules({"r": check})
    return rule


def test_each_check_passes_and_fails_as_a_person_would_expect() -> None:
    sign_off = _rule(ends_with="Keep rolling,\nThe Cadence crew")
    assert sign_off.passes("Done.\n\nKeep rolling,\nThe Cadence crew\n")  # a trailing newline is no failure
    assert not sign_off.passes("Done.\n\nKeep rolling, The Cadence crew")
    assert sign_off.describe() == 'ends with "Keep rolling,\\nThe Cadence crew"'  # line breaks visible in tables
    assert _rule(contains="Next step:").passes("Sorry. Next step: call us.")
    assert not _rule(contains="Next step:").passes("Sorry. next step: call us.")
    assert _rule(max_words=3).passes("one two\nthree") and not _rule(max_words=3).passes("one two three four")
    assert _rule(regex=r"(?i)^order #\d+").passes("Order #123 shipped")
    assert not _rule(regex=r"^order #\d+").passes("Your order #123")
    assert _rule(valid_json=True).passes(' {"a": 1}\n') and not _rule(valid_json=True).passes('```json\n{"a": 1}\n```')
    schema = _rule(json_schema={"type": "object", "required": ["label"], "properties": {"label": {"enum": ["bug", "billing"]}}})
    assert schema.passes('{"label": "bug"}')
    assert not schema.passes('{"label": "praise"}') and not schema.passes("label: bug") and not schema.passes("[]")


def test_an_answer_passes_only_when_every_rule_passes() -> None:
    rules = parse_rules({"short": {"max_words": 4}, "polite": {"contains": "please"}})
    results = check_answers(rules, ["yes please", "no", "please please please please please"])
    assert results.summary() == {"passed": 1, "total": 3, "by_rule": {"short": 2, "polite": 2}}
    assert results.failed() == [[], ["polite"], ["short"]]
    assert pass_rate(results.summary()) == "1/3 (33 %)"


@pytest.mark.parametrize(
    ("rules", "key", "words"),
    [
        ({"bad": {"regex": "(unclosed"}}, "rules.bad.regex", "not a valid Python regular expression"),
        ({"posix": {"regex": "[[:alpha:]]+"}}, "rules.posix.regex", "is ambiguous: Possible nested set"),
        ({"two": {"contains": "a", "max_words": 3}}, "rules.two", "exactly one check"),
        ({"none": {}}, "rules.none", "exactly one check"),
        ({"typo": {"end_with": "x"}}, "rules.typo.end_with", "unknown check"),
        ({"empty": {"contains": "  "}}, "rules.empty.contains", "non-empty text"),
        ({"words": {"max_words": 0}}, "rules.words.max_words", "at least 1"),
        ({"words": {"max_words": 2.5}}, "rules.words.max_words", "whole number"),
        ({"json": {"valid_json": False}}, "rules.json.valid_json", "should be true"),
        ({"schema": {"json_schema": {"type": "objekt"}}}, "rules.schema.json_schema", "not a valid JSON Schema"),
        ({"schema": {"json_schema": "object"}}, "rules.schema.json_schema", "should be a table"),
        ({"[bold]x": {"contains": "a"}}, "rules.[bold]x", "a rule's name"),
        ({"flat": "ends with this"}, "rules.flat", "should be a table"),
    ],
)
def test_a_bad_rule_is_refused_with_its_key(rules, key, words) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_dict({"rules": rules})
    assert caught.value.key == key and words in caught.value.message


def test_a_bad_rule_in_tuneui_toml_names_the_file_and_rule(workspace, capsys) -> None:
    workspace.config_path.write_text('[rules.sign-off]\nregex = "(Keep rolling"\n', encoding="utf-8")
    assert main(["--project", str(workspace.root), "baseline", "--json"]) == 2
    err = capsys.readouterr().err
    assert "tuneui.toml: [rules.sign-off.regex] is not a valid Python regular expression" in err
    assert "Traceback" not in err


def test_rules_survive_a_save_and_reload(workspace) -> None:
    settings = workspace.settings()
    settings.rules = {"sign-off": {"ends_with": "Bye"}, "shape": {"json_schema": {"type": "object", "required": ["a"]}}}
    workspace.save_settings(settings)
    assert workspace.settings().rules == settings.rules
    assert [r.describe() for r in parse_rules(workspace.settings().rules)] == ['ends with "Bye"', "JSON matching a schema"]


def test_a_catastrophically_backtracking_regex_stops_with_an_error_instead_of_hanging() -> None:
    rule = _rule(regex=r"^(a|aa)+$")
    started = time.monotonic()
    with pytest.raises(TuneError) as caught:
        rule.passes("a" * 200 + "!")
    assert time.monotonic() - started < 60  # without the timeout: longer than the universe has existed
    assert "Rule 'r': its regex did not finish" in caught.value.title and "(a+)+" in caught.value.hint


def test_the_demo_reference_answers_pass_every_house_rule() -> None:
    import tomllib

    settings = Settings.from_dict(tomllib.loads((DEMO / "tuneui.toml").read_text(encoding="utf-8")))
    rules = parse_rules(settings.rules)
    assert {r.check for r in rules} >= {"ends_with", "contains", "max_words"}
    answers = []
    for line in (DEMO / "examples.jsonl").read_text(encoding="utf-8").splitlines():
        answers.append([m for m in json.loads(line)["messages"] if m["role"] == "assistant"][-1]["content"])
    summary = check_answers(rules, answers).summary()
    assert summary["passed"] == summary["total"] == 150
    # The rules are not vacuous: a plain answer without the house voice breaks them.
    assert check_answers(rules, ["Sure, we can help with that."]).failed() != [[]]
