"""Every request the OpenAI backend sends must be valid for its endpoint in OpenAI's own OpenAPI spec.

The spec (`../shared/openai/openapi.yaml`, 3 MB) is loaded once per session. Bodies are validated
with jsonschema against the operation's request schema, `$ref`s resolved inside the spec.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from backends.openai_ft import OpenAIBackend
from tests.hosted.conftest import follow, make_spec

_SPEC_CACHE: dict[Path, dict[str, Any]] = {}


@pytest.fixture
def openai_spec(shared_dir: Path) -> dict[str, Any]:
    """The parsed spec; parsed once per session (the module-level cache), skipped where absent."""
    path = shared_dir / "openai" / "openapi.yaml"
    if not path.is_file():
        pytest.skip("../shared/openai/openapi.yaml is not there")
    if path not in _SPEC_CACHE:
        import yaml

        with open(path, encoding="utf-8") as handle:
            _SPEC_CACHE[path] = _modernize(yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    return _SPEC_CACHE[path]


def _modernize(node: Any) -> Any:
    """The spec says 3.1 but keeps some 3.0 `exclusiveMinimum: true`; as JSON Schema 2020-12 that
    would compare numbers against True (=1). Rewrite them to the 3.1 meaning: a strict bound."""
    if isinstance(node, dict):
        for bound, strict in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            if isinstance(node.get(strict), bool):
                if node.pop(strict) and bound in node:
                    node[strict] = node.pop(bound)
        for value in node.values():
            _modernize(value)
    elif isinstance(node, list):
        for value in node:
            _modernize(value)
    return node


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    path = path.removeprefix("/v1")  # the spec's server URL carries /v1; its paths do not
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]
    return None


_VALIDATORS: dict[int, Any] = {}


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    if id(schema) not in _VALIDATORS:
        _VALIDATORS[id(schema)] = _build_validator(spec, schema)
    return _VALIDATORS[id(schema)]


def _build_validator(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resource("urn:openai-spec", Resource.from_contents(spec, default_specification=DRAFT202012))
    rooted = _reroot(schema)
    return Draft202012Validator(rooted, registry=registry)


def _reroot(node: Any) -> Any:
    """Point the operation's local `#/...` refs at the registered spec document."""
    if isinstance(node, dict):
        return {k: ("urn:openai-spec" + v if k == "$ref" and v.startswith("#") else _reroot(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_reroot(v) for v in node]
    return node


def test_every_request_body_matches_the_official_spec(openai_spec, fake_openai, project) -> None:
    backend = OpenAIBackend(project)
    backend.check("gpt-4o-mini")
    run_id = backend.start(make_spec(project, "openai", epochs=2, batch_size=4, options={"learning_rate_multiplier": 0.5}))
    backend.pause(run_id)
    backend.resume(run_id)
    follow(backend, run_id)
    ref = backend.result(run_id)
    backend.generate(ref, [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]])
    "".join(backend.stream(ref, [{"role": "user", "content": "hi"}]))
    cancelled = backend.start(make_spec(project, "openai", val_file=None, suffix=None))
    backend.cancel(cancelled)

    checked = set()
    for request in fake_openai.requests:
        operation = _operation(openai_spec, request.method, request.path)
        assert operation is not None, f"{request.method} {request.path} is not an endpoint of the OpenAI API"
        content = (operation.get("requestBody") or {}).get("content") or {}
        if request.json is not None:
            schema = content["application/json"]["schema"]
            body = request.json
        elif request.form is not None:
            schema = content["multipart/form-data"]["schema"]
            body = {k: v if isinstance(v, str) else "<binary>" for k, v in request.form.items()}
        else:
            continue
        errors = sorted(_validator(openai_spec, schema).iter_errors(body), key=str)
        assert not errors, f"{request.method} {request.path}: {errors[0].message} at {list(errors[0].absolute_path)}"
        checked.add(operation["operationId"])
    assert {"createFile", "createFineTuningJob", "createChatCompletion"} <= checked


def test_the_contract_check_rejects_bodies_the_api_would_refuse(openai_spec) -> None:
    schema = _operation(openai_spec, "POST", "/v1/fine_tuning/jobs")["requestBody"]["content"]["application/json"]["schema"]
    validator = _validator(openai_spec, schema)
    good = {"model": "gpt-4o-mini", "training_file": "file-1", "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}}}
    assert validator.is_valid(good)
    assert not validator.is_valid({"model": "gpt-4o-mini"})
    assert not validator.is_valid({**good, "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 0}}}})
    assert not validator.is_valid({**good, "method": {"type": "supervised", "supervised": {"hyperparameters": {"learning_rate_multiplier": 0}}}})
