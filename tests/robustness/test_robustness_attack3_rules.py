"""The third attack on task rules: a JSON Schema never reaches the network or the file system, a
schema that cannot be checked and a regex that cannot be compiled are refused when tuneui.toml is
read, naming the rule (issue 24, findings 1, 7 and 8)."""

from __future__ import annotations

import http.server
import threading
import urllib.request

import pytest

from tuneui.cli import main
from tuneui.core.rules import RuleError, check_answers, parse_rules


def _schema_rule(schema) -> dict:
    return {"shape": {"json_schema": schema}}


def _toml_with(workspace, rule_text: str) -> None:
    workspace.config_path.write_text(workspace.config_path.read_text() + "\n" + rule_text + "\n", encoding="utf-8")


def _cli(workspace, capsys, *args) -> tuple[int, str]:
    code = main(["--project", str(workspace.root), *args])
    return code, capsys.readouterr().err


# Finding 1: a $ref is never fetched, whatever its scheme.


@pytest.mark.parametrize("ref", ["http://127.0.0.1:9/s.json", "https://example.com/s.json", "file:///{schema}", "{schema}"])
def test_a_ref_outside_the_schema_is_refused_when_the_rules_are_read(tmp_path, monkeypatch, ref):
    schema_file = tmp_path / "s.json"
    schema_file.write_text('{"type": "string"}')
    fetched = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: fetched.append(a) or (_ for _ in ()).throw(OSError("no")))
    with pytest.raises(RuleError) as caught:
        parse_rules(_schema_rule({"$ref": ref.format(schema=str(schema_file).lstrip("/") if ref.startswith("file") else schema_file)}))
    assert caught.value.key == "shape.json_schema"
    assert "never fetch" in caught.value.message and "$defs" in caught.value.message
    assert fetched == []


def test_a_file_ref_is_not_read_and_applied_to_answers(tmp_path):
    """Before the fix, the file's schema ({"type": "string"}) was read and decided the answers."""
    schema_file = tmp_path / "s.json"
    schema_file.write_text('{"type": "string"}')
    try:
        rules = parse_rules(_schema_rule({"$ref": schema_file.as_uri()}))
    except RuleError:
        return
    passed = check_answers(rules, ['"x"', "{}"]).passed
    pytest.fail(f"a file:// $ref was accepted and read: {passed}")


def test_the_cli_names_the_rule_of_a_remote_ref(workspace, capsys):
    _toml_with(workspace, '[rules.shape.json_schema]\n"$ref" = "http://127.0.0.1:9/s.json"')
    code, err = _cli(workspace, capsys, "data", "split")
    assert code == 2 and "[rules.shape.json_schema]" in err and "failed unexpectedly" not in err


def test_local_refs_and_recursive_schemas_still_work():
    schema = {
        "$defs": {"label": {"enum": ["bug", "billing"]}, "node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
        "type": "object",
        "properties": {"label": {"$ref": "#/$defs/label"}, "tree": {"$ref": "#/$defs/node"}},
    }
    rules = parse_rules(_schema_rule(schema))
    results = check_answers(rules, ['{"label": "bug", "tree": {"kids": [{"kids": []}]}}', '{"label": "praise"}'])
    assert results.passed == ((True,), (False,))


@pytest.mark.integration
def test_no_request_reaches_a_schema_server(workspace, capsys):
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            hits.append(self.path)
            body = b'{"type": "string"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _toml_with(workspace, f'[rules.shape.json_schema]\n"$ref" = "http://127.0.0.1:{server.server_port}/s.json"')
        code, err = _cli(workspace, capsys, "data", "split")
    finally:
        server.shutdown()
    assert code == 2 and "[rules.shape.json_schema]" in err
    assert hits == []


# Finding 7: schemas that used to crash the check with "failed unexpectedly".


def _nested(depth: int) -> dict:
    schema: dict = {"type": "object"}
    for _ in range(depth):
        schema = {"not": schema}
    return schema


@pytest.mark.parametrize(
    "schema, words",
    [
        ({"$ref": "#"}, "refers to itself"),
        ({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "refers to itself"),
        ({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "refers to itself"),
        ({"$ref": "#/$defs/missing"}, "points to nothing"),
        ({"$ref": "/etc/passwd"}, "never fetch"),
        ({"allOf": [{"$ref": "#"}]}, "refers to itself"),
        (_nested(300), "nested"),
    ],
)
def test_a_schema_that_cannot_be_checked_is_refused_at_load(schema, words):
    with pytest.raises(RuleError) as caught:
        parse_rules(_schema_rule(schema))
    assert caught.value.key == "shape.json_schema" and words in caught.value.message


@pytest.mark.parametrize(
    "rule_text",
    [
        '[rules.shape.json_schema]\n"$ref" = "#"',
        '[rules.shape.json_schema]\n"$ref" = "/etc/passwd"',
        '[rules.shape.json_schema]\n"$ref" = "#/definitions/nothing"',
        "[rules.shape]\njson_schema = " + "{ not = " * 300 + "{ type = 'object' }" + " }" * 300,
    ],
)
def test_the_cli_names_the_rule_never_a_bug(workspace, capsys, rule_text):
    _toml_with(workspace, rule_text)
    code, err = _cli(workspace, capsys, "data", "split")
    assert code == 2 and "[rules.shape" in err
    assert "failed unexpectedly" not in err and "Traceback" not in err


# Finding 8: a regex that compiles to gigabytes is refused when read, before any answer.


@pytest.mark.parametrize("pattern", ["(?:(?:(?:a{1000}){1000}){1000}){1000}", "(?:a{1000}){1000}", "(?:x{2000}|y){500}"])
def test_a_regex_too_big_to_compile_is_refused_at_load(pattern):
    with pytest.raises(RuleError) as caught:
        parse_rules({"big": {"regex": pattern}})
    assert caught.value.key == "big.regex" and "too big" in caught.value.message


def test_the_cli_names_a_regex_too_big_to_compile(workspace, capsys):
    _toml_with(workspace, "[rules.big]\nregex = '(?:(?:(?:a{1000}){1000}){1000}){1000}'")
    code, err = _cli(workspace, capsys, "data", "split")
    assert code == 2 and "[rules.big.regex]" in err and "too big" in err


def test_ordinary_regexes_still_load_and_run():
    rules = parse_rules({"id": {"regex": r"^[A-Z]{3}-\d{4,6}$"}, "rep": {"regex": r"(?:ab){2,50}"}, "long": {"regex": "x{10000}"}})
    assert check_answers(rules, ["ABC-12345"]).passed == ((True, False, False),)


def test_a_recursive_schema_on_an_answer_nested_without_end_fails_the_answer_not_the_step():
    rules = parse_rules(_schema_rule({"type": "array", "items": {"$ref": "#"}}))
    looping = "[" * 50_000 + "]" * 50_000  # a small model stuck on one token
    assert check_answers(rules, ["[[]]", looping]).passed == ((True,), (False,))


def test_a_reference_past_a_nested_id_is_named_when_answers_are_checked():
    from tuneui.errors import TuneError

    rules = parse_rules(_schema_rule({"properties": {"a": {"$id": "http://x.invalid/a", "$ref": "#/nowhere"}}}))
    with pytest.raises(TuneError) as caught:
        check_answers(rules, ['{"a": 1}'])
    assert "Rule 'shape'" in caught.value.title and "cannot follow" in caught.value.title


def test_a_ref_key_inside_a_constant_is_data_not_a_reference():
    rules = parse_rules(_schema_rule({"const": {"$ref": "http://example.com/x.json"}}))
    assert check_answers(rules, ['{"$ref": "http://example.com/x.json"}', "{}"]).passed == ((True,), (False,))
