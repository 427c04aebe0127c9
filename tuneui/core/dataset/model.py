"""The one in-memory shape every reader produces: an OpenAI-style chat example with its origin."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Example:
    """One training example as chat messages, remembering where in its source file it came from.

    `line` is the 1-based line of a JSONL/CSV record, or of the start of a JSON array element;
    `index` is its 0-based position among the file's records. Findings cite `line`.
    """

    messages: tuple[Mapping[str, Any], ...]
    line: int | None = None
    index: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)  # tools, parallel_tool_calls, ...

    @classmethod
    def of_messages(cls, messages: tuple[Mapping[str, Any], ...], line: int | None, index: int) -> "Example":
        """`Example(messages, line, index)` at a quarter of the cost: a frozen dataclass sets each
        field through object.__setattr__, and readers build one per record of files of millions."""
        example = object.__new__(cls)
        example.__dict__.update(messages=messages, line=line, index=index, extra={})
        return example

    @property
    def system(self) -> str | None:
        for message in self.messages:
            if message.get("role") == "system":
                return message_text(message.get("content"))
        return None

    @property
    def prompt(self) -> tuple[Mapping[str, Any], ...]:
        """Everything before the final assistant message: what a model is given."""
        last = self._last_assistant_index()
        return self.messages if last is None else self.messages[:last]

    @property
    def answer(self) -> str | None:
        """The final assistant message's text: the reference answer."""
        last = self._last_assistant_index()
        return None if last is None else message_text(self.messages[last].get("content"))

    @property
    def user_text(self) -> str:
        """All user turns joined: what duplicate and contradiction checks compare."""
        return "\n".join(message_text(m.get("content")) or "" for m in self.messages if m.get("role") == "user")

    def to_chat(self) -> dict[str, Any]:
        """The OpenAI chat JSONL record."""
        return {"messages": [dict(m) for m in self.messages], **dict(self.extra)}

    def _last_assistant_index(self) -> int | None:
        for position in range(len(self.messages) - 1, -1, -1):
            if self.messages[position].get("role") == "assistant":
                return position
        return None


def message_text(content: Any) -> str | None:
    """Message content as text: strings as they are, content-part lists joined."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        # Only string texts: a part of another type (an image) may carry any "text" field at all.
        return "".join(text for part in content if isinstance(part, Mapping) and isinstance(text := part.get("text"), str))
    return str(content)
