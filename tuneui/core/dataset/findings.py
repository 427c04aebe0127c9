"""Findings: what is wrong with a dataset, where, and how to fix it. Every code lives here."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]

# code -> (severity, hint). Errors mean the example cannot be used; warnings mean "usable, but look".
CODES: dict[str, tuple[Severity, str]] = {
    "invalid_json": ("error", "Fix the JSON syntax on that line; every line of a .jsonl file must be one complete JSON object."),
    "invalid_encoding": ("error", "Save the file as UTF-8 (most editors offer 'Save with encoding'), or export it again as UTF-8 JSONL/CSV."),
    "data_type": ("error", "Give the field the type the format expects: examples are JSON objects, content is a string, weight is 0 or 1."),
    "missing_messages_list": ("error", 'Give each example a non-empty "messages" list of {"role", "content"} objects, or pass --format for your layout.'),
    "message_missing_key": ("error", 'Give every message both a "role" and a "content" (assistant messages with "tool_calls" may omit content).'),
    "message_unrecognized_key": ("error", "Remove the key; a message may hold role, content, name, weight, tool_calls, tool_call_id and function_call."),
    "unrecognized_role": ("error", "Use one of the roles system, user, assistant or tool."),
    "missing_content": ("error", "Write the text of the message, or remove the message."),
    "example_missing_assistant_message": ("error", "Add the assistant's answer: it is what the model learns to say."),
    "no_examples": ("error", "Add examples to the file; fine-tuning needs at least 10."),
    "missing_system": ("warning", "Add the system prompt you will use in production, the same in every example."),
    "missing_user": ("warning", "Add the user's message the answer responds to."),
    "duplicate": ("warning", "Remove the repeated example; duplicates weigh it more and can leak between splits."),
    "contradiction": ("warning", "Decide which answer is right and keep one; contradictory answers teach the model to guess."),
    "inconsistent_system": ("warning", "Use the same system prompt in every example, the one you will use in production."),
    "too_long": ("warning", "Shorten the example or split it; the part over the limit is cut off in training."),
    "too_few_examples": ("warning", "Add examples: OpenAI requires at least 10, and 50-100 good ones is where improvement shows."),
    "empty_answer": ("warning", "Write the answer, or remove the example; an empty answer teaches the model to say nothing."),
    "length_outlier": ("warning", "Check that this example is what you meant; one very long example can dominate training."),
    "leakage": ("warning", "Remove it from one of the splits (run `tuneui data split` again); a validation example seen in training hides overfitting."),
}


# Slots, and one copy of each message text: every finding is kept for --json, and a file of a
# million broken lines holds a million findings (258 bytes each before, about 100 now).
@dataclass(frozen=True, slots=True)
class Finding:
    """One problem with one example (or, with `line=None`, with the whole file)."""

    line: int | None
    code: str
    message: str
    hint: str

    @property
    def severity(self) -> Severity:
        return CODES[self.code][0]

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_json(self) -> dict[str, object]:
        return {"line": self.line, "code": self.code, "message": self.message, "hint": self.hint}


def finding(code: str, line: int | None, message: str, hint: str | None = None) -> Finding:
    """A finding with the code's standard hint unless a more specific one is given."""
    return Finding(line=line, code=code, message=sys.intern(message), hint=hint or CODES[code][1])


def split_by_severity(findings: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """(errors, warnings), each in file order; whole-file findings (line None) come first."""
    ordered = sorted(findings, key=lambda item: -1 if item.line is None else item.line)
    return [f for f in ordered if f.is_error], [f for f in ordered if not f.is_error]
