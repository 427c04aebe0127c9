"""Task rules: checks a person can state about every good answer, run on held-out answers.

A project names its rules in `tuneui.toml`, one table per rule with exactly one check:

    [rules.sign-off]
    ends_with = "Keep rolling,\\nThe Cadence crew"

The checks are `ends_with` and `contains` (text, case-sensitive; trailing whitespace of the answer
is ignored by `ends_with`), `max_words` (whitespace-separated words), `regex` (Python `re` syntax,
found anywhere: anchor with `^`/`$` or `\\A`/`\\Z`), `valid_json = true` (the whole answer, as
`json.loads` reads it) and `json_schema` (a TOML table holding a JSON Schema, checked with
`jsonschema`). An answer passes when every rule passes.

A regex can backtrack for longer than the universe lasts (`(a|aa)+$` on a long run of a's), and
Python's `re` cannot be interrupted. Patterns are therefore checked for syntax by `re` and run by
the `regex` module, which reads the same syntax and takes a timeout: a pattern that does not finish
on one answer within `REGEX_TIMEOUT_S` stops the step with an error naming the rule. The only
patterns the two read differently are those `re` warns about (nested sets), and those are refused.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping, Sequence

from tuneui.core.metrics import parse_json
from tuneui.core.rule_guards import GuardError, compiled_regex, regex_problem, schema_problem, schema_validator
from tuneui.errors import TuneError

CHECKS = ("ends_with", "contains", "max_words", "regex", "valid_json", "json_schema")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _-]{0,39}")
REGEX_TIMEOUT_S = 0.5


class RuleError(ValueError):
    """A rule that cannot be checked; `key` is its place under [rules], such as `sign-off.regex`."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"[rules.{key}] {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True)
class Rule:
    """One named check; `value` is what tuneui.toml gave its check (text, a count, true, a schema)."""

    name: str
    check: str
    value: Any

    def passes(self, answer: str) -> bool:
        if self.check == "ends_with":
            return answer.rstrip().endswith(self.value.rstrip())
        if self.check == "contains":
            return self.value in answer
        if self.check == "max_words":
            return len(answer.split()) <= self.value
        if self.check == "regex":
            return self._regex_found(answer)
        parsed, value = parse_json(answer)
        if self.check == "valid_json":
            return parsed
        return parsed and self._schema_passes(value)

    def describe(self) -> str:
        """The rule in words, for tables and reports: `ends with "…"`, `at most 90 words`."""
        if self.check == "max_words":
            return f"at most {self.value} word" + ("s" if self.value != 1 else "")
        if self.check == "valid_json":
            return "valid JSON"
        if self.check == "json_schema":
            return "JSON matching a schema"
        verb = {"ends_with": "ends with", "contains": "contains", "regex": "matches"}[self.check]
        # Quoted as written, backslashes and all, with line breaks made visible.
        return f'{verb} "{self.value}"'.replace("\r", "\\r").replace("\n", "\\n")

    def _regex_found(self, answer: str) -> bool:
        try:
            return self._compiled_regex.search(answer, timeout=REGEX_TIMEOUT_S) is not None
        except TimeoutError:
            raise TuneError(
                f"Rule {self.name!r}: its regex did not finish on one answer within {REGEX_TIMEOUT_S:g} s",
                f"The pattern {self.value!r} backtracks without end (nested repeats such as (a+)+ or (a|aa)+ "
                "do); rewrite it in [rules] of tuneui.toml, then run the step again: saved answers are reused.",
            ) from None

    @cached_property
    def _compiled_regex(self) -> Any:
        try:
            return compiled_regex(self.value)
        except GuardError as exc:
            raise TuneError(f"Rule {self.name!r}: its regex {exc}", "Rewrite the pattern in [rules] of tuneui.toml.") from None

    def _schema_passes(self, value: Any) -> bool:
        from referencing.exceptions import Unresolvable

        try:
            return bool(self._schema_validator.is_valid(value))
        except RecursionError:
            # The schema's own cycles are refused at load; what is left is an answer nested deeper
            # than Python recurses (a model that loops on "[[[["): it does not match.
            return False
        except Unresolvable as exc:  # refused at load where it can be seen; a nested $id may still get here
            raise TuneError(
                f"Rule {self.name!r}: its JSON Schema has a reference tuneui cannot follow ({exc})",
                "Keep every $ref a pointer into the rule's own schema (\"#/$defs/NAME\") in [rules] of tuneui.toml; tuneui fetches nothing.",
            ) from None

    @cached_property
    def _schema_validator(self) -> Any:
        return schema_validator(self.value)


@dataclass(frozen=True)
class RuleResults:
    """Every rule on every answer: `passed[i][j]` is answer i on rule j."""

    names: tuple[str, ...]
    passed: tuple[tuple[bool, ...], ...]

    def summary(self) -> dict[str, Any]:
        """`{"passed", "total", "by_rule": {name: passed}}`; an answer passes when all rules pass."""
        return {
            "passed": sum(all(row) for row in self.passed),
            "total": len(self.passed),
            "by_rule": {name: sum(row[j] for row in self.passed) for j, name in enumerate(self.names)},
        }

    def failed(self) -> list[list[str]]:
        """Per answer, the names of the rules it broke (empty when it passed them all)."""
        return [[name for name, ok in zip(self.names, row) if not ok] for row in self.passed]


def parse_rules(tables: Mapping[str, Mapping[str, Any]]) -> tuple[Rule, ...]:
    """The rules of a [rules] table of tables, in file order; `RuleError` names the first bad one."""
    rules = []
    for name, table in tables.items():
        if not NAME_PATTERN.fullmatch(name):
            raise RuleError(name, "a rule's name is up to 40 letters, digits, spaces, '-' or '_', starting with a letter or digit")
        checks = [key for key in table if key in CHECKS]
        unknown = [key for key in table if key not in CHECKS]
        if unknown:
            raise RuleError(f"{name}.{unknown[0]}", f"unknown check; a rule has one of {', '.join(CHECKS)}")
        if len(checks) != 1:
            found = f"has {', '.join(checks)}" if checks else "has none"
            raise RuleError(name, f"a rule has exactly one check ({', '.join(CHECKS)}); this one {found}: split it into several rules")
        check = checks[0]
        rules.append(Rule(name, check, _checked_value(name, check, table[check])))
    return tuple(rules)


def check_answers(rules: Sequence[Rule], answers: Sequence[str]) -> RuleResults:
    """Every rule on every answer."""
    return RuleResults(tuple(r.name for r in rules), tuple(tuple(r.passes(a) for r in rules) for a in answers))


def pass_rate(summary: Mapping[str, Any]) -> str:
    """`"20/22 (91 %)"`: a `RuleResults.summary()` (or one of its rule counts) in words."""
    passed, total = summary["passed"], summary["total"]
    return f"{passed}/{total} ({100 * passed / total:.0f} %)" if total else "0/0"


def _checked_value(name: str, check: str, value: Any) -> Any:
    key = f"{name}.{check}"
    if check in ("ends_with", "contains", "regex"):
        if not isinstance(value, str) or not value.strip():
            raise RuleError(key, f"should be non-empty text in quotes, not {value!r}")
        if check == "regex":
            try:
                # `re` warns of the few patterns it may read differently one day (nested sets such as
                # [[:alpha:]]); `regex` already does, so they are refused rather than run differently.
                with warnings.catch_warnings():
                    warnings.simplefilter("error", FutureWarning)
                    re.compile(value)
            except re.error as exc:
                raise RuleError(key, f"is not a valid Python regular expression: {exc}") from None
            except FutureWarning as exc:
                raise RuleError(key, f"is ambiguous: {exc}; escape the '[' (\\[) or the repeated '&&', '--', '~~', '||'") from None
            except RecursionError:
                raise RuleError(key, "is nested too deeply to compile; flatten its groups") from None
            problem = regex_problem(value)
            if problem:
                raise RuleError(key, problem)
            try:
                compiled_regex(value)  # at load, so a pattern the engine refuses is named before any answer
            except GuardError as exc:
                raise RuleError(key, str(exc)) from None
        return value
    if check == "max_words":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RuleError(key, f"should be a whole number of words, at least 1, not {value!r}")
        return value
    if check == "valid_json":
        if value is not True:
            raise RuleError(key, f"should be true (to drop the check, delete the rule), not {value!r}")
        return value
    return _checked_schema(key, value)


def _checked_schema(key: str, schema: Any) -> dict[str, Any]:
    if not isinstance(schema, Mapping):
        raise RuleError(key, f"should be a table holding a JSON Schema ([rules.{key}] or {{ type = \"object\" }}), not {schema!r}")
    try:
        from jsonschema.exceptions import SchemaError
        from jsonschema.validators import validator_for
    except ImportError:
        raise RuleError(key, "needs the jsonschema package: pip install jsonschema") from None
    schema = dict(schema)
    problem = schema_problem(schema)  # first: check_schema itself recurses, and may follow a $ref
    if problem:
        raise RuleError(key, problem)
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise RuleError(key, f"is not a valid JSON Schema: {exc.message}") from None
    return schema
