"""The record layouts tuneui reads, each turned into chat messages and checked like the cookbook does.

A converter takes one parsed record and returns either an `Example` or the errors that keep it from
being one; `validate_messages` holds the OpenAI cookbook's format checks, shared by every layout.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Union

from tuneui.core.dataset.findings import Finding, finding
from tuneui.core.dataset.model import Example

FORMATS = ("chat", "prompt-completion", "alpaca", "sharegpt", "csv", "hf")
RECORD_FORMATS = ("chat", "prompt-completion", "alpaca", "sharegpt")

ROLES = frozenset({"system", "user", "assistant", "tool", "function"})
# Roles whose message is complete with a role and a content string (a tool message also needs its call id).
_PLAIN_ROLES = frozenset({"system", "user", "assistant", "function"})
MESSAGE_KEYS = frozenset({"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"})
# Top-level keys of a chat record that belong to the example (OpenAI accepts them); others are dropped.
CHAT_EXTRA_KEYS = ("tools", "parallel_tool_calls", "functions")
SHAREGPT_ROLES = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
    "bard": "assistant", "bing": "assistant", "model": "assistant", "system": "system", "tool": "tool",
    "function": "tool", "observation": "tool",
}
# Column names understood without --map, in order of preference.
PROMPT_COLUMNS = ("prompt", "question", "input", "query", "instruction", "text")
RESPONSE_COLUMNS = ("response", "completion", "answer", "output", "target", "label")
SYSTEM_COLUMNS = ("system", "system_prompt")

Converted = Union[Example, list[Finding]]


def detect_record_format(record: Any) -> str | None:
    """The layout of one record by its keys, or None when no layout fits."""
    if not isinstance(record, Mapping):
        return None
    if "messages" in record:
        return "chat"
    if "conversations" in record:
        return "sharegpt"
    if "instruction" in record and "output" in record:
        return "alpaca"
    if "prompt" in record and "completion" in record:
        return "prompt-completion"
    return None


def converter(record_format: str) -> Callable[[Any, int, int], Converted]:
    return _CONVERTERS[record_format]


def validate_messages(messages: Any, line: int) -> list[Finding]:
    """The cookbook's format checks on one example's messages: at most one finding per code."""
    if not isinstance(messages, list) or not messages:
        return [finding("missing_messages_list", line, 'The example has no non-empty "messages" list.')]
    if _plain(messages):
        return []
    found: dict[str, Finding] = {}

    def note(code: str, message: str) -> None:
        found.setdefault(code, finding(code, line, message))

    has_assistant = False
    for position, message in enumerate(messages, 1):
        # The common case, decided in a few operations: {"role": known, "content": non-empty text}.
        # Anything else takes the full checks below, which name what is wrong.
        if type(message) is dict and len(message) == 2:
            role, content = message.get("role"), message.get("content")
            if type(role) is str and role in ROLES and role != "tool" and type(content) is str:
                if role == "assistant":
                    has_assistant = True
                    continue
                if content and not content.isspace():
                    continue
        if not isinstance(message, Mapping):
            note("data_type", f"Message {position} is a {_type_name(message)}, not an object.")
            continue
        role = message.get("role")
        has_assistant = has_assistant or role == "assistant"
        calls = message.get("tool_calls") or message.get("function_call")
        missing = [key for key in ("role", "content") if key not in message and not (key == "content" and calls)]
        if missing:
            note("message_missing_key", f"Message {position} has no {' or '.join(repr(k) for k in missing)}.")
        unknown = sorted(str(key) for key in message if key not in MESSAGE_KEYS)
        if unknown:
            more = f" and {len(unknown) - 5:,} more" if len(unknown) > 5 else ""
            note("message_unrecognized_key", f"Message {position} has the unknown key(s) {', '.join(map(_quoted, unknown[:5]))}{more}.")
        if "role" in message and not (isinstance(role, str) and role in ROLES):
            note("unrecognized_role", f"Message {position} has the role {_quoted(role)}.")
        if "content" in message:
            _check_content(message.get("content"), role, bool(calls), position, note)
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            note("message_missing_key", f"Message {position} (tool) has no 'tool_call_id' string naming the call it answers.")
        if "tool_calls" in message:
            _check_tool_calls(message["tool_calls"], position, note)
        if "function_call" in message:
            _check_function(message["function_call"], f"Message {position}, function_call", note)
        if message.get("weight", 0) not in (0, 1) or isinstance(message.get("weight"), str):
            note("data_type", f"Message {position} has weight {_quoted(message.get('weight'))}; it must be 0 or 1.")
        if "name" in message and not isinstance(message["name"], str):
            note("data_type", f"Message {position} has a name that is not a string.")
    if not has_assistant:
        note("example_missing_assistant_message", "The example has no assistant message.")
    return list(found.values())


def _plain(messages: list[Any]) -> bool:
    """True for the usual example, which needs no finding: every message is exactly {"role": a known
    role other than tool, "content": text}, user and system text is not blank, an assistant answers.
    One loop with no closure or dict: this runs for every example of a 100,000-example file."""
    has_assistant = False
    for message in messages:
        if type(message) is not dict or len(message) != 2:
            return False
        role, content = message.get("role"), message.get("content")
        if type(content) is not str or type(role) is not str or role not in _PLAIN_ROLES:
            return False
        if role == "assistant":
            has_assistant = True
        elif not content or content.isspace():
            return False
    return has_assistant


def _check_content(content: Any, role: Any, has_calls: bool, position: int, note: Callable[[str, str], None]) -> None:
    if content is None:
        if not has_calls:
            note("missing_content", f"Message {position} ({role}) has null content.")
    elif isinstance(content, list):
        if not content and not has_calls and role != "assistant":
            note("missing_content", f"Message {position} ({role}) is empty: its content list has no parts.")
        elif content and role != "assistant" and all(_is_blank_text(part) for part in content):
            note("missing_content", f"Message {position} ({role}) is empty: its text parts hold no text.")
        for number, part in enumerate(content, 1):
            if not isinstance(part, Mapping):
                note("data_type", f"Message {position} has a content list whose parts are not objects.")
            elif part.get("type", "text") == "text" and not isinstance(part.get("text"), str):
                what = "no text" if "text" not in part else f"text of type {_type_name(part.get('text'))}"
                note("data_type", f"Message {position}, content part {number}: a text part with {what}; its text must be a string.")
    elif not isinstance(content, str):
        note("data_type", f"Message {position} has content of type {_type_name(content)}; it must be a string.")
    elif not content.strip() and role != "assistant":
        # An empty assistant answer is usable (the empty_answer warning says so); an empty question is not.
        note("missing_content", f"Message {position} ({role}) is empty.")


def _is_blank_text(part: Any) -> bool:
    return isinstance(part, Mapping) and part.get("type", "text") == "text" and isinstance(part.get("text"), str) and not part["text"].strip()


def _check_tool_calls(calls: Any, position: int, note: Callable[[str, str], None]) -> None:
    """The shape OpenAI's fine-tuning upload requires of an assistant's tool calls."""
    if not isinstance(calls, list) or not calls:
        note("data_type", f"Message {position} has tool_calls that are not a non-empty list of calls.")
        return
    for number, call in enumerate(calls, 1):
        _check_function(call.get("function") if isinstance(call, Mapping) else None, f"Message {position}, tool call {number}", note)


def _check_function(function: Any, where: str, note: Callable[[str, str], None]) -> None:
    """A called function as OpenAI requires it, in a tool call or a legacy `function_call`."""
    if not isinstance(function, Mapping):
        note("data_type", f'{where}: needs a function, an object with "name" and "arguments".')
    elif not isinstance(function.get("name"), str) or not function["name"]:
        note("data_type", f'{where}: its function has no "name".')
    elif not isinstance(function.get("arguments"), str):
        note("data_type", f'{where}: its "arguments" must be a string of JSON, not a {_type_name(function.get("arguments"))}.')


def _chat(record: Any, line: int, index: int) -> Converted:
    if type(record) is not dict and not isinstance(record, Mapping):
        return [finding("data_type", line, f"The record is a {_type_name(record)}, not a JSON object.")]
    messages = record.get("messages")
    errors = validate_messages(messages, line)
    if errors:
        return errors
    if len(record) == 1:  # only "messages": the common case skips building an empty extra
        return Example.of_messages(tuple(messages), line, index)
    extra = {key: record[key] for key in CHAT_EXTRA_KEYS if key in record}
    return Example(messages=tuple(messages), line=line, index=index, extra=extra)


def _prompt_completion(record: Any, line: int, index: int) -> Converted:
    if not isinstance(record, Mapping):
        return [finding("data_type", line, f"The record is a {_type_name(record)}, not a JSON object.")]
    if record.get("completion") is None:
        return [finding("example_missing_assistant_message", line, 'The record has no "completion".')]
    return _from_texts(line, index, record.get("system"), [("user", record.get("prompt"), "prompt")], ("completion", record["completion"]))


def _alpaca(record: Any, line: int, index: int) -> Converted:
    if not isinstance(record, Mapping):
        return [finding("data_type", line, f"The record is a {_type_name(record)}, not a JSON object.")]
    if record.get("output") is None:
        return [finding("example_missing_assistant_message", line, 'The record has no "output".')]
    instruction, extra_input = record.get("instruction"), record.get("input") or ""
    if isinstance(instruction, str) and isinstance(extra_input, str) and extra_input.strip():
        instruction = f"{instruction}\n\n{extra_input}"
    turns: list[tuple[str, Any, str]] = []
    history = record.get("history") or []
    if not isinstance(history, list) or not all(isinstance(pair, list) and len(pair) == 2 for pair in history):
        return [finding("data_type", line, '"history" must be a list of [question, answer] pairs.')]
    for question, answer in history:
        turns += [("user", question, "history"), ("assistant", answer, "history")]
    turns.append(("user", instruction, "instruction"))
    return _from_texts(line, index, record.get("system"), turns, ("output", record["output"]))


def _sharegpt(record: Any, line: int, index: int) -> Converted:
    if not isinstance(record, Mapping):
        return [finding("data_type", line, f"The record is a {_type_name(record)}, not a JSON object.")]
    turns = record.get("conversations")
    if not isinstance(turns, list) or not turns:
        return [finding("missing_messages_list", line, 'The record has no non-empty "conversations" list.')]
    messages: list[dict[str, Any]] = []
    if isinstance(record.get("system"), str) and record["system"].strip():
        messages.append({"role": "system", "content": record["system"]})
    for position, turn in enumerate(turns, 1):
        if not isinstance(turn, Mapping):
            return [finding("data_type", line, f"Turn {position} is a {_type_name(turn)}, not an object.")]
        if "from" not in turn or "value" not in turn:
            return [finding("message_missing_key", line, f'Turn {position} needs both "from" and "value".')]
        role = SHAREGPT_ROLES.get(str(turn["from"]).lower())
        if role is None:
            hint = f"Use one of {', '.join(sorted(SHAREGPT_ROLES))} as \"from\"."
            return [finding("unrecognized_role", line, f'Turn {position} is from {_quoted(turn["from"])}.', hint)]
        messages.append({"role": role, "content": turn["value"]})
    errors = validate_messages(messages, line)
    return errors or Example(messages=tuple(messages), line=line, index=index)


def _from_texts(
    line: int, index: int, system: Any, turns: list[tuple[str, Any, str]], answer: tuple[str, Any]
) -> Converted:
    """Messages from plain text fields; a field of the wrong type is named in the error."""
    for _role, text, field_name in [*turns, (None, answer[1], answer[0])]:
        if text is None:
            return [finding("missing_content", line, f'The record has no "{field_name}".')]
        if not isinstance(text, str):
            return [finding("data_type", line, f'"{field_name}" is a {_type_name(text)}; it must be a string.')]
    messages: list[dict[str, Any]] = []
    if isinstance(system, str) and system.strip():
        messages.append({"role": "system", "content": system})
    messages += [{"role": role, "content": text} for role, text, _field in turns]
    messages.append({"role": "assistant", "content": answer[1]})
    errors = validate_messages(messages, line)
    return errors or Example(messages=tuple(messages), line=line, index=index)


def row_converter(mapping: Mapping[str, str]) -> Callable[[Any, int, int], Converted]:
    """A converter for table rows (CSV, parquet): columns named by `mapping` become the messages."""
    prompt_column, response_column = mapping["prompt"], mapping["response"]
    system_column = mapping.get("system")

    def convert(row: Any, line: int, index: int) -> Converted:
        if not isinstance(row, Mapping):
            return [finding("data_type", line, f"The record is a {_type_name(row)}, not an object with fields.")]
        prompt, response = row.get(prompt_column), row.get(response_column)
        if prompt is None:
            return [finding("missing_content", line, f"The row has no {prompt_column!r} cell.")]
        if response is None:
            return [finding("example_missing_assistant_message", line, f"The row has no {response_column!r} cell.")]
        system = row.get(system_column) if system_column else None
        turns = [("user", _cell(prompt), prompt_column)]
        return _from_texts(line, index, _cell(system), turns, (response_column, _cell(response)))

    return convert


def auto_mapping(columns: list[str]) -> dict[str, str]:
    """prompt/response/system columns guessed from the header; missing roles are left out."""
    by_lower = {name.lower(): name for name in columns}
    mapping: dict[str, str] = {}
    for role, candidates in (("prompt", PROMPT_COLUMNS), ("response", RESPONSE_COLUMNS), ("system", SYSTEM_COLUMNS)):
        for candidate in candidates:
            if candidate in by_lower and by_lower[candidate] not in mapping.values():
                mapping[role] = by_lower[candidate]
                break
    return mapping


def _cell(value: Any) -> Any:
    # Table cells may be numbers (a label column of 0/1); their text is what the model should say.
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _quoted(value: Any, limit: int = 60) -> str:
    """A value from the file as Python quotes it, cut short: a finding is one line, whatever the file holds."""
    text = repr(value[: limit + 1] if isinstance(value, str) else value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _type_name(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


_CONVERTERS: dict[str, Callable[[Any, int, int], Converted]] = {
    "chat": _chat,
    "prompt-completion": _prompt_completion,
    "alpaca": _alpaca,
    "sharegpt": _sharegpt,
}
