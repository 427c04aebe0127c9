"""Ollama's Modelfile, with the chat template in Ollama's Go template syntax.

The tokenizer's Jinja template is not translated: it is rendered (in the export worker) around
marker texts, and the text between the markers is each role's prefix and suffix. The Go template is
built from those pieces, then rendered here by a small interpreter of the part of Go's template
syntax it uses (`range`, `if eq .Role`, `else if`, `.Content`), and the export checks that it gives
the same prompt text as the tokenizer's template for a system + user turn.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

MARKERS = {"system": "\x01SYSTEM\x02", "user": "\x01USER\x02", "assistant": "\x01ASSISTANT\x02", "user2": "\x01USER2\x02"}
ROLES = ("system", "user", "assistant")


class TemplateShapeError(ValueError):
    """The chat template does not wrap each message in a fixed prefix and suffix."""


@dataclass(frozen=True)
class Pieces:
    """Each role's text before and after its content, and the prompt that starts an answer."""

    prefix: Mapping[str, str]
    suffix: Mapping[str, str]
    generation: str


def pieces(probe: Mapping[str, str]) -> Pieces:
    """Prefixes and suffixes from the marker renderings of `backends.local.export_worker.template_probe`."""
    if probe.get("error"):
        raise TemplateShapeError(f"the chat template cannot render a system + user turn ({probe['error']})")
    m = MARKERS
    with_prompt, plain, two = probe["system_user_prompt"], probe["system_user"], probe["two_turns"]
    if not with_prompt.startswith(plain):
        raise TemplateShapeError("the generation prompt is not appended to the conversation")
    generation = with_prompt[len(plain):]
    system_prefix, rest = _split(plain, m["system"])
    between_system_user, rest = _split(rest, m["user"])
    user_suffix_and_more = rest  # after the user's content, up to the end of the conversation
    _, after_user = _split(two, m["user"])
    between_user_assistant, after_assistant = _split(after_user, m["assistant"])
    between_assistant_user, tail = _split(after_assistant, m["user2"])
    user_suffix = user_suffix_and_more
    if tail != user_suffix:
        raise TemplateShapeError("a user message does not always end the same way")
    if not between_user_assistant.startswith(user_suffix):
        raise TemplateShapeError("an assistant message's start depends on what comes before it")
    assistant_prefix = between_user_assistant[len(user_suffix):]
    # Templates close every message the same way: where a system message is followed by the user's
    # closing text, that is the system's suffix, and the rest is how a user message opens.
    system_suffix = user_suffix if between_system_user.startswith(user_suffix) else ""
    user_prefix = between_system_user[len(system_suffix):]
    if not between_assistant_user.endswith(user_prefix):
        raise TemplateShapeError("a user message does not always start the same way")
    return Pieces(
        prefix={"system": system_prefix, "user": user_prefix, "assistant": assistant_prefix},
        suffix={"system": system_suffix, "user": user_suffix, "assistant": between_assistant_user[: len(between_assistant_user) - len(user_prefix)]},
        generation=generation,
    )


def _split(text: str, marker: str) -> tuple[str, str]:
    before, found, after = text.partition(marker)
    if not found:
        raise TemplateShapeError("a message's content is not in the rendered prompt as it was given")
    return before, after


def go_template(shape: Pieces) -> str:
    """The Modelfile's TEMPLATE: every message with its role's prefix and suffix, then the answer's start."""
    parts = ["{{ range .Messages }}"]
    for position, role in enumerate(ROLES):
        keyword = "if" if position == 0 else "else if"
        parts.append(f'{{{{ {keyword} eq .Role "{role}" }}}}{_literal(shape.prefix[role])}{{{{ .Content }}}}{_literal(shape.suffix[role])}')
    parts.append("{{ end }}{{ end }}")
    parts.append(_literal(shape.generation))
    return "".join(parts)


def _literal(text: str) -> str:
    if "{{" in text or '"""' in text:
        raise TemplateShapeError("the template's text holds '{{' or '\"\"\"', which a Modelfile cannot quote")
    return text


_ACTION = re.compile(r"\{\{(.*?)\}\}", re.S)


def render(template: str, messages: Sequence[Mapping[str, str]]) -> str:
    """`template` rendered for `messages` as Ollama would, for the part of Go's syntax `go_template` writes."""
    tokens: list[tuple[str, str]] = []
    position = 0
    for match in _ACTION.finditer(template):
        tokens.append(("text", template[position:match.start()]))
        tokens.append(("action", match.group(1).strip()))
        position = match.end()
    tokens.append(("text", template[position:]))
    out: list[str] = []
    index = 0
    while index < len(tokens):
        kind, value = tokens[index]
        if kind == "text":
            out.append(value)
            index += 1
        elif value == "range .Messages":
            end = _matching_end(tokens, index)
            for message in messages:
                out.append(_render_if_chain(tokens[index + 1 : end], message))
            index = end + 1
        else:
            raise TemplateShapeError(f"unexpected action {{{{ {value} }}}} at the top level")
    return "".join(out)


def _matching_end(tokens: Sequence[tuple[str, str]], start: int) -> int:
    depth = 0
    for index in range(start, len(tokens)):
        kind, value = tokens[index]
        if kind != "action":
            continue
        if value.startswith(("range ", "if ")):
            depth += 1
        elif value == "end":
            depth -= 1
            if depth == 0:
                return index
    raise TemplateShapeError("a block has no {{ end }}")


def _render_if_chain(tokens: Sequence[tuple[str, str]], message: Mapping[str, str]) -> str:
    out: list[str] = []
    taking = False
    taken = False
    for kind, value in tokens:
        if kind == "action" and (value.startswith("if eq .Role ") or value.startswith("else if eq .Role ")):
            role = json.loads(value.rsplit(" ", 1)[1])
            taking = not taken and message.get("role") == role
            taken = taken or taking
        elif kind == "action" and value == "end":
            taking = False
        elif taking:
            out.append(value if kind == "text" else _value(value, message))
    return "".join(out)


def _value(action: str, message: Mapping[str, str]) -> str:
    if action == ".Content":
        return str(message.get("content", ""))
    raise TemplateShapeError(f"unexpected action {{{{ {action} }}}} in a message")


def modelfile(gguf_name: str, template: str, stops: Sequence[str], system_prompt: str) -> str:
    lines = [f"FROM ./{gguf_name}", "", f'TEMPLATE """{template}"""', ""]
    lines += [f"PARAMETER stop {json.dumps(stop, ensure_ascii=False)}" for stop in stops]
    if system_prompt:
        if '"""' in system_prompt:
            raise TemplateShapeError('the system prompt holds \'"""\', which a Modelfile cannot quote')
        lines += ["", f'SYSTEM """{system_prompt}"""']
    return "\n".join(lines) + "\n"


def ollama_name(model: str) -> str:
    """An Ollama model name: lowercase letters, digits, '-', '_' and '.'."""
    return re.sub(r"[^a-z0-9._-]+", "-", model.lower()).strip("-.") or "tuned"
