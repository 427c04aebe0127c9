"""What a task rule must be before tuneui runs it: a JSON Schema that stays inside itself and ends,
a regex whose compiled program has a bounded size. Both are checked when tuneui.toml is read, so a
rule fails there, naming itself, and never in the middle of a step.

A JSON Schema `$ref` may name any URI, and jsonschema's old default fetched it (http, https and
file alike) once per answer. A rule is data from a settings file: it must never reach the network
or the file system. So every `$ref` must be a pointer into the rule's own schema (`#/$defs/name`),
and the validator gets a registry that refuses to retrieve anything, in case a reference slips past
(an `$id` that changes the base URI).

A schema whose references go round without looking at any part of the answer (`"$ref" = "#"`,
`$defs` that refer to each other) recurses until Python gives up; a reference that goes through
`properties` or `items` is a recursive data shape and ends with the answer, so only cycles of
in-place keywords (`$ref`, `allOf`, `not`, ...) are refused.

The `regex` module expands counted repeats: `(?:(?:a{1000}){1000}){1000}` compiles to gigabytes.
The size of the expanded program is counted from `re`'s parse before anything is compiled.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterator, Mapping
from urllib.parse import unquote

MAX_SCHEMA_DEPTH = 64  # tables and lists inside one schema; real schemas use a handful
MAX_REGEX_SIZE = 50_000  # pattern items after repeats are expanded; `x{50000}` compiles in ~0.05 s
REF_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")
# Keywords whose subschemas apply to the same value, not to a part of it: a cycle through them never ends.
IN_PLACE_LISTS = ("allOf", "anyOf", "oneOf")
IN_PLACE_SCHEMAS = ("not", "if", "then", "else")
IN_PLACE_TABLES = ("dependentSchemas",)
DATA_KEYS = ("const", "enum", "default", "examples")  # values, not schemas: a "$ref" key in them is data
KEEP_INSIDE = "tuneui never fetches a schema (no network, no file): copy the definition under $defs and refer to it as \"#/$defs/NAME\""


class GuardError(ValueError):
    """Why a rule's value cannot be run, as a sentence the settings error completes with its key."""


def schema_problem(schema: Mapping[str, Any]) -> str | None:
    """Why `schema` cannot be checked safely, or None. Runs before jsonschema sees the schema."""
    depth, where = _deepest(schema)
    if depth > MAX_SCHEMA_DEPTH:
        return f"is nested {depth} levels deep (at {where or 'the top'}); tuneui reads schemas nested at most {MAX_SCHEMA_DEPTH} levels"
    has_ids = False
    for pointer, node in _subschemas(schema):
        has_ids = has_ids or (pointer != "" and ("$id" in node or "id" in node))
        for key in REF_KEYS:
            ref = node.get(key)
            if ref is None:
                continue
            if not isinstance(ref, str) or not ref.startswith("#"):
                return f"has {key} {ref!r} at {pointer or '/'}, which points outside the schema; {KEEP_INSIDE}"
    if has_ids:
        return None  # a nested $id moves the base of "#": left to the validator, which fetches nothing
    edges: dict[str, list[str]] = {}
    for pointer, node in _subschemas(schema):
        targets = []
        for key in REF_KEYS:
            ref = node.get(key)
            if isinstance(ref, str) and (ref == "#" or ref.startswith("#/")):
                target = _pointer_of(ref)
                if _resolve(schema, target) is None:
                    return f"has {key} {ref!r} at {pointer or '/'}, which points to nothing in the schema; add the definition or fix the pointer"
                targets.append(target)
        edges[pointer] = targets + list(_in_place_children(pointer, node))
    cycle = _cycle(edges)
    if cycle:
        path = " -> ".join(step or "/" for step in cycle)
        return f"refers to itself without looking at any part of the answer ({path}), so it would never end; let the reference go through properties or items"
    return None


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` is too big to compile, or None; `pattern` has already been parsed by `re`."""
    try:
        from re import _parser as parser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_parse as parser  # type: ignore[no-redef]
    try:
        size = _program_size(parser.parse(pattern).data, parser)
    except RecursionError:
        return "is nested too deeply to compile; flatten its groups"
    if size > MAX_REGEX_SIZE:
        return (
            f"is too big to compile: its counted repeats expand to about {size:,} items (at most {MAX_REGEX_SIZE:,}); "
            "use smaller counts, or + and * instead of {n} inside {n}"
        )
    return None


@lru_cache(maxsize=64)
def compiled_regex(pattern: str) -> Any:
    """`pattern` compiled by the `regex` module (which takes a timeout), once per process."""
    import regex  # imported only when a project has a regex rule; it reads `re` syntax in V0 mode

    try:
        return regex.compile(pattern, regex.V0)
    except regex.error as exc:  # `re` accepted it; the two engines may still disagree at the edges
        raise GuardError(f"cannot be run: {exc}") from None


def schema_validator(schema: Mapping[str, Any]) -> Any:
    """A jsonschema validator for `schema` whose registry retrieves nothing, from anywhere."""
    from jsonschema.validators import validator_for
    from referencing import Registry
    from referencing.exceptions import NoSuchResource

    def refuse(uri: str) -> Any:
        raise NoSuchResource(ref=uri)

    return validator_for(schema)(schema, registry=Registry(retrieve=refuse))  # type: ignore[call-arg]


def _program_size(items: Any, parser: Any) -> int:
    constants = parser  # MAX_REPEAT and friends are re-exported by the parser module
    repeats = {constants.MAX_REPEAT, constants.MIN_REPEAT, getattr(constants, "POSSESSIVE_REPEAT", None)}
    total = 0
    for op, arg in items:
        if op in repeats:
            low, high, sub = arg
            count = high if high != constants.MAXREPEAT else low
            total += max(count, 1) * _program_size(sub, parser)
        elif op is constants.SUBPATTERN:
            total += _program_size(arg[-1], parser)
        elif op is constants.BRANCH:
            total += sum(_program_size(branch, parser) for branch in arg[1])
        elif op in (constants.ASSERT, constants.ASSERT_NOT):
            total += _program_size(arg[1], parser)
        elif op is constants.GROUPREF_EXISTS:
            total += _program_size(arg[1], parser) + (_program_size(arg[2], parser) if arg[2] else 0)
        elif op is getattr(constants, "ATOMIC_GROUP", None):
            total += _program_size(arg, parser)
        else:
            total += 1
    return total


def _deepest(value: Any) -> tuple[int, str]:
    """The deepest nesting of tables and lists in `value`, and a pointer to it (no recursion)."""
    deepest, where = 0, ""
    stack = [(value, 0, "")]
    while stack:
        item, depth, pointer = stack.pop()
        if depth > deepest:
            deepest, where = depth, pointer
        if depth > MAX_SCHEMA_DEPTH:
            continue  # deep enough to refuse; no need to walk further down
        if isinstance(item, Mapping):
            stack.extend((child, depth + 1, f"{pointer}/{key}") for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((child, depth + 1, f"{pointer}/{index}") for index, child in enumerate(item))
    return deepest, where


def _subschemas(schema: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every table of the schema with its JSON pointer (keys escaped as RFC 6901 says), values of
    `DATA_KEYS` left out."""
    stack = [("", schema)]
    while stack:
        pointer, node = stack.pop()
        if isinstance(node, Mapping):
            yield pointer, node
            stack.extend((f"{pointer}/{_escaped(str(key))}", child) for key, child in node.items() if key not in DATA_KEYS)
        elif isinstance(node, list):
            stack.extend((f"{pointer}/{index}", child) for index, child in enumerate(node))


def _in_place_children(pointer: str, node: Mapping[str, Any]) -> Iterator[str]:
    for key in IN_PLACE_LISTS:
        if isinstance(node.get(key), list):
            yield from (f"{pointer}/{key}/{index}" for index in range(len(node[key])))
    for key in IN_PLACE_SCHEMAS:
        if isinstance(node.get(key), Mapping):
            yield f"{pointer}/{key}"
    for key in IN_PLACE_TABLES:
        if isinstance(node.get(key), Mapping):
            yield from (f"{pointer}/{key}/{_escaped(str(name))}" for name in node[key])


def _cycle(edges: Mapping[str, list[str]]) -> list[str] | None:
    """A cycle of the graph as the list of its nodes (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in edges:
        if start in state:
            continue
        path, stack = [start], [iter(edges.get(start, ()))]
        state[start] = 1
        while stack:
            following = next(stack[-1], None)
            if following is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(following) == 1:
                return path[path.index(following):] + [following]
            elif following not in state:
                state[following] = 1
                path.append(following)
                stack.append(iter(edges.get(following, ())))
    return None


def _pointer_of(ref: str) -> str:
    return unquote(ref[1:])


def _resolve(schema: Any, pointer: str) -> Any:
    node = schema
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _escaped(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
