"""The checks that look across examples: duplicates, contradictions, system prompts, lengths, leakage.

`Audit` takes examples one at a time and keeps only a few numbers per example (hashes, line, token
count), so a 100,000-example file is checked without holding its text.
"""

from __future__ import annotations

import statistics
import string
from collections import Counter
from functools import lru_cache
from typing import Iterable, Mapping, NamedTuple, Sequence

from tuneui.core.dataset.findings import Finding, finding, split_by_severity
from tuneui.core.dataset.model import Example

OPENAI_MINIMUM_EXAMPLES = 10
OUTLIER_MIN_EXAMPLES = 20  # below this a "typical length" means little
# Punctuation becomes a space, so "Refund?" and "refund" are the same word.
_PUNCTUATION_TO_SPACE = str.maketrans({char: " " for char in string.punctuation})
_PUNCTUATION_TO_SPACE_BYTES = bytes.maketrans(string.punctuation.encode(), b" " * len(string.punctuation))


def normalize(text: str | None) -> str:
    """Text reduced to its words: case, punctuation and spacing do not make two prompts different."""
    return " ".join(text.casefold().translate(_PUNCTUATION_TO_SPACE).split()) if text else ""


def _fingerprint(text: str | None) -> bytes:
    """`normalize` as UTF-8 bytes, about twice as fast (bytes.translate is a table lookup): every
    prompt of a 100,000-example file goes through here. Only ASCII punctuation is mapped, so the
    bytes of other characters are untouched."""
    if not text:
        return b""
    return b" ".join(text.casefold().encode("utf-8", "surrogatepass").translate(_PUNCTUATION_TO_SPACE_BYTES).split())


# The system prompt repeats in nearly every example: fingerprint each distinct one once.
_fingerprint_repeated = lru_cache(maxsize=64)(_fingerprint)


def prompt_key(example: Example) -> int:
    """Identity of what the model is given (system prompt included), up to case and punctuation."""
    return _Facts.of(example).prompt_key


def example_key(example: Example) -> tuple[int, int]:
    """(prompt identity, answer identity); answers compare exactly but for surrounding space, because
    "Positive" and "positive" are two different labels to a model."""
    facts = _Facts.of(example)
    return facts.prompt_key, hash((facts.answer or "").strip())


_SYSTEM_USER = ("system", "user")


class _Facts(NamedTuple):
    """What the checks need of one example, gathered once, so no check walks the messages again."""

    system: str | None
    has_user: bool
    answer: str | None  # the final assistant message's text; None without one
    answer_has_calls: bool
    prompt_key: int

    @classmethod
    def of(cls, example: Example) -> "_Facts":
        messages = example.messages
        if len(messages) == 3:
            # The usual example, system + user + assistant text, decided in a few operations: this
            # runs for every example of a 100,000-example file, and each statement shows.
            system, user, answer = messages
            system_text, user_text, answer_text = system.get("content"), user.get("content"), answer.get("content")
            if (
                (system.get("role"), user.get("role"), answer.get("role")) == ("system", "user", "assistant")
                and type(system_text) is str and type(user_text) is str and type(answer_text) is str
                and "tool_calls" not in answer and "function_call" not in answer
            ):
                key = hash((_SYSTEM_USER, (_fingerprint_repeated(system_text), _fingerprint(user_text))))
                return cls(system_text, True, answer_text, False, key)
        # Any other shape, as list operations rather than one loop with branches.
        roles = [message.get("role") for message in messages]
        texts = [_content(message) for message in messages]
        system = (texts[roles.index("system")] or "") if "system" in roles else None
        last_assistant = len(roles) - 1 - roles[::-1].index("assistant") if "assistant" in roles else -1
        end = len(roles) if last_assistant < 0 else last_assistant
        # The prompt is what precedes the final answer; the answer itself is compared unnormalized.
        prompt = tuple(
            _fingerprint_repeated(text) if role == "system" else _fingerprint(text)
            for role, text in zip(roles[:end], texts[:end])
        )
        key = hash((tuple(roles[:end]), prompt))
        if last_assistant < 0:
            return cls(system, "user" in roles, None, False, key)
        final = messages[last_assistant]
        calls = bool(final.get("tool_calls") or final.get("function_call"))
        return cls(system, "user" in roles, texts[last_assistant], calls, key)


class Audit:
    """Collects examples (and reader findings) in file order, then reports every finding."""

    def __init__(self) -> None:
        self._findings: list[Finding] = []
        self._lines: list[int | None] = []
        self._tokens: list[int] = []
        self._systems: list[str | None] = []
        self._first_seen: dict[int, tuple[int | None, int]] = {}  # prompt key -> (line, answer hash)
        self._records = 0
        self._partner: dict[tuple[int, int], int | None] = {}
        self._partner_name = ""

    def watch_leakage(self, other: Iterable[Example], other_name: str) -> None:
        """Flag (as `leakage`) every example added from now on that also appears in `other`."""
        self._partner_name = other_name
        for example in other:
            self._partner.setdefault(example_key(example), example.line)

    def add(self, item: Example | Finding, tokens: int | None = None) -> None:
        self._records += 1
        if isinstance(item, Finding):
            self._findings.append(item)
            return
        facts = _Facts.of(item)
        self._lines.append(item.line)
        self._systems.append(facts.system)
        if tokens is not None:
            self._tokens.append(tokens)
        self._check_example(item.line, facts)

    @property
    def example_count(self) -> int:
        return len(self._lines)

    def findings(self, token_limit: int | None = None, model: str = "") -> tuple[list[Finding], list[Finding]]:
        """(errors, warnings) in file order; token checks run when every example had a count."""
        found = list(self._findings)
        found += self._count_findings()
        found += self._system_findings()
        if self._tokens and len(self._tokens) == len(self._lines):
            found += self._length_findings(token_limit, model)
        return split_by_severity(found)

    def _check_example(self, line: int | None, facts: _Facts) -> None:
        if facts.system is None:
            self._findings.append(finding("missing_system", line, "The example has no system prompt."))
        if not facts.has_user:
            self._findings.append(finding("missing_user", line, "The example has no user message."))
        answer = (facts.answer or "").strip()
        if not answer and not facts.answer_has_calls:
            self._findings.append(finding("empty_answer", line, "The assistant's answer is empty."))
        key, answer_hash = facts.prompt_key, hash(answer)
        if self._partner and (key, answer_hash) in self._partner:
            where = self._partner[(key, answer_hash)]
            self._findings.append(finding("leakage", line, f"The same example is in {self._partner_name} (line {where})."))
        first = self._first_seen.get(key)
        if first is None:
            self._first_seen[key] = (line, answer_hash)
        else:
            if first[1] == answer_hash:
                self._findings.append(finding("duplicate", line, f"The same example as line {first[0]}."))
            else:
                self._findings.append(
                    finding("contradiction", line, f"The same prompt as line {first[0]}, with a different answer.")
                )

    def _count_findings(self) -> list[Finding]:
        count = self.example_count
        if self._records == 0:
            return [finding("no_examples", None, "The file holds no examples.")]
        if count == 0:
            return []  # every record has its own error already
        if count < OPENAI_MINIMUM_EXAMPLES:
            return [finding("too_few_examples", None, f"Only {count} usable example(s); OpenAI requires at least 10.")]
        return []

    def _system_findings(self) -> list[Finding]:
        counts = Counter(system for system in self._systems if system is not None)
        if len(counts) < 2:
            return []
        usual, usual_count = counts.most_common(1)[0]
        with_system = sum(counts.values())
        if usual_count * 2 <= with_system:
            return []  # no majority: per-example system prompts are a design, not a slip
        first_usual = self._lines[self._systems.index(usual)]
        return [
            finding(
                "inconsistent_system",
                line,
                f"Its system prompt differs from the one {usual_count:,} of {with_system:,} examples use (as on line {first_usual}).",
            )
            for line, system in zip(self._lines, self._systems)
            if system is not None and system != usual
        ]

    def _length_findings(self, token_limit: int | None, model: str) -> list[Finding]:
        found: list[Finding] = []
        if token_limit:
            target = f"the {model} limit" if model else "the limit"
            found += [
                finding("too_long", line, f"{tokens:,} tokens, over {target} of {token_limit:,} per example.")
                for line, tokens in zip(self._lines, self._tokens)
                if tokens > token_limit
            ]
        if len(self._tokens) >= OUTLIER_MIN_EXAMPLES:
            q1, median, q3 = statistics.quantiles(self._tokens, n=4)
            # Tukey's "far out" fence, and at least twice the median so a tight distribution stays quiet.
            fence = max(q3 + 3 * (q3 - q1), 2 * median)
            found += [
                finding("length_outlier", line, f"{tokens:,} tokens, {tokens / median:.0f}x the median of {median:,.0f}.")
                for line, tokens in zip(self._lines, self._tokens)
                if tokens > fence
            ]
        return found


def find_leakage(examples: Iterable[Example], other: Iterable[Example], other_name: str) -> list[Finding]:
    """A `leakage` finding for each of `examples` that also appears (up to case and punctuation) in `other`."""
    audit = Audit()
    audit.watch_leakage(other, other_name)
    for example in examples:
        audit.add(example)
    return [item for item in audit.findings()[1] if item.code == "leakage"]


def audit_examples(examples: Sequence[Example], tokens: Sequence[int] | None = None, token_limit: int | None = None) -> tuple[list[Finding], list[Finding]]:
    """(errors, warnings) of examples already in memory, e.g. after an edit in the UI."""
    audit = Audit()
    for position, example in enumerate(examples):
        audit.add(example, None if tokens is None else tokens[position])
    return audit.findings(token_limit)


def _content(message: Mapping[str, object]) -> str | None:
    """A message's text: strings as they are, content-part lists joined, anything else None."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return None
