"""Together AI's published OpenAPI spec (`../shared/together/openapi.yaml`) is the contract: every
request the backend sends, and every answer the fake serves, must be valid for its endpoint.

Where the official SDKs accept more than the spec (the `user_error` status, upper-case event types,
the download's redirect to a presigned URL), the fake serves that too, and the check allows
exactly those additions (`SDK_ADDITIONS`), no more. The spec's OpenAPI 3.0 idioms are read as it
means them (`nullable`, a `type` beside a `oneOf` that widens it). Skipped where ../shared is absent.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from tuneui.core.backend import BackendError
from backends.together_ft import TogetherBackend
from tests.hosted.conftest import follow, make_spec, published_spec
from tests.hosted.fake_together import FakeTogether

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
SPEC_URN = "urn:together-spec"
_SPEC_CACHE: dict[Path, dict[str, Any]] = {}
_VALIDATORS: dict[int, Any] = {}


def _add_sdk_additions(spec: dict[str, Any]) -> dict[str, Any]:
    """What the SDKs (together-python, together-typescript) accept beyond the spec, and only that."""
    schemas = spec["components"]["schemas"]
    schemas["FinetuneJobStatus"]["enum"].append("user_error")
    kinds = schemas["FinetuneEventType"]["enum"] + ["job_user_error"]
    schemas["FinetuneEventType"]["enum"] = kinds + [kind.upper() for kind in kinds]
    return spec


def _modernize(node: Any) -> Any:
    """OpenAPI 3.0 spellings in this 3.1 spec, rewritten to what they mean in JSON Schema 2020-12:
    `nullable: true` admits null; a `type` written beside a `oneOf`/`anyOf` (train_on_inputs:
    `type: boolean` next to `oneOf: [boolean, "auto"]`, default "auto") is dropped for the `oneOf`."""
    if isinstance(node, dict):
        for value in node.values():
            _modernize(value)
        if ("oneOf" in node or "anyOf" in node) and "type" in node:
            del node["type"]
        if node.pop("nullable", False):
            alternatives = {key: node.pop(key) for key in list(node) if key not in ("description", "default")}
            node["anyOf"] = [alternatives, {"type": "null"}]
    elif isinstance(node, list):
        for value in node:
            _modernize(value)
    return node


@pytest.fixture
def together_spec(shared_dir: Path) -> dict[str, Any]:
    raw = published_spec(shared_dir, "together/openapi.yaml")
    path = shared_dir / "together" / "openapi.yaml"
    if path not in _SPEC_CACHE:  # the published text stays as read; the additions go on a copy
        _SPEC_CACHE[path] = _add_sdk_additions(_modernize(copy.deepcopy(raw)))
    return _SPEC_CACHE[path]


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    path = path.removeprefix("/v1")  # the spec's server URL carries /v1; its paths do not
    # Literal paths before templated ones: /fine-tunes/estimate-price is not /fine-tunes/{id}.
    for template, item in sorted(spec["paths"].items(), key=lambda pair: "{" in pair[0]):
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return item[method.lower()]
    return None


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    if id(schema) not in _VALIDATORS:
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        registry = Registry().with_resource(SPEC_URN, Resource.from_contents(spec, default_specification=DRAFT202012))
        _VALIDATORS[id(schema)] = Draft202012Validator(_reroot(copy.deepcopy(schema)), registry=registry)
    return _VALIDATORS[id(schema)]


def _reroot(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (SPEC_URN + v if k == "$ref" and v.startswith("#") else _reroot(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_reroot(v) for v in node]
    return node


def _problems(spec: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    return [f"{error.message} at {list(error.absolute_path)}" for error in _validator(spec, schema).iter_errors(value)]


def request_problems(spec: dict[str, Any], request: Any) -> list[str]:
    """Why `request` is not a valid call of its endpoint (empty when it is)."""
    operation = _operation(spec, request.method, request.path)
    if operation is None:
        return [f"{request.method} {request.path} is not an endpoint of the Together API"]
    problems = []
    declared = {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "query"}
    for name, values in request.query.items():
        if name not in declared:
            problems.append(f"query parameter {name!r} is not in the spec")
            continue
        schema = declared[name]["schema"]
        value = int(values[0]) if schema.get("type") == "integer" and values[0].lstrip("-").isdigit() else values[0]
        problems += _problems(spec, schema, value)
    problems += [f"required query parameter {n!r} missing" for n, p in declared.items() if p.get("required") and n not in request.query]
    content = (operation.get("requestBody") or {}).get("content") or {}
    if request.json is not None:
        problems += _problems(spec, content["application/json"]["schema"], request.json) if "application/json" in content else ["a JSON body the endpoint does not take"]
    elif request.form is not None:
        form = {k: v if isinstance(v, str) else "<binary>" for k, v in request.form.items()}
        problems += _problems(spec, content["multipart/form-data"]["schema"], form)
    return problems


def response_problems(spec: dict[str, Any], request: Any, reply: Any) -> list[str]:
    """Why `reply` is not an answer the spec (plus SDK_ADDITIONS) allows for `request`."""
    operation = _operation(spec, request.method, request.path)
    if operation is None:
        return [f"{request.method} {request.path} is not an endpoint of the Together API"]
    if reply.status == 302 and request.path.endswith("/finetune/download"):
        # Together's download answers with a redirect to a presigned URL; the SDKs follow it.
        return [] if reply.headers.get("location", "").startswith("http") else ["a redirect without a Location"]
    documented = operation.get("responses", {}).get(str(reply.status))
    if documented is None:
        return [f"HTTP {reply.status} is not a documented answer of {operation['operationId'] if 'operationId' in operation else request.path}"]
    content = documented.get("content") or {}
    if reply.raw is not None:
        return [] if reply.content_type in content or not content else [f"content type {reply.content_type} not documented"]
    if "application/json" not in content:
        return [] if reply.body is None or not content else ["a JSON answer where the spec has none"]
    return _problems(spec, content["application/json"]["schema"], reply.body)


def _exercise(project: Any, server: FakeTogether, monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything tuneui asks of Together: readiness, a run to the end, chat, an endpoint, a cancel."""
    from backends.hosted import together_endpoint

    stops: list = []
    monkeypatch.setattr(together_endpoint.atexit, "register", lambda function, *args: stops.append((function, args)))
    backend = TogetherBackend(project)
    backend.check(MODEL)
    backend.check("org/not-fine-tunable")
    run_id = backend.start(make_spec(project, "together", model=MODEL, lora_r=8, batch_size=8, learning_rate=1e-4))
    follow(backend, run_id)
    ref = backend.result(run_id)
    backend.generate(ref, [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]])
    "".join(backend.stream(ref, [{"role": "user", "content": "hi"}]))
    server.serverless_lora = False  # evaluation then asks what a dedicated endpoint would cost
    with pytest.raises(BackendError, match="dedicated endpoint"):
        TogetherBackend(project).generate(ref, [[{"role": "user", "content": "hi"}]])
    settings = project.settings()
    settings.together.endpoint_max_cents_per_minute = 100.0  # ...and, with consent, starts and stops one
    project.save_settings(settings)
    TogetherBackend(project).generate(ref, [[{"role": "user", "content": "hi"}]])
    for stop, args in stops:
        stop(*args)
    cancelled = backend.start(make_spec(project, "together", model=MODEL, val_file=None, suffix=None))
    backend.cancel(cancelled)
    follow(backend, cancelled)


def test_every_request_and_every_served_answer_match_the_published_spec(together_spec, fake_together, project, monkeypatch) -> None:
    _exercise(project, fake_together, monkeypatch)
    broken = [f"{r.method} {r.path}: {p}" for r in fake_together.requests for p in request_problems(together_spec, r)]
    broken += [f"answer to {r.method} {r.path}: {p}" for r, reply in fake_together.replies for p in response_problems(together_spec, r, reply)]
    assert not broken, "\n".join(broken[:10])
    operations = {_operation(together_spec, r.method, r.path).get("summary") for r in fake_together.requests}
    assert {"Upload a file", "Create job", "List job events", "Get metrics", "Download model", "Cancel job"} <= operations
    assert {"List supported models", "Get model limits", "Estimate price", "List available hardware configurations"} <= operations
    assert {"Create a dedicated endpoint, it will start automatically", "Get endpoint by ID"} <= operations
    assert any(r.method == "PATCH" and r.json == {"state": "STOPPED"} for r in fake_together.requests)


@pytest.mark.parametrize("event_case", ["lower", "upper"])
def test_a_refused_job_and_its_events_are_served_as_the_sdks_accept_them(together_spec, fake_together, project, event_case) -> None:
    fake_together.outcome, fake_together.event_case = "user_error", event_case
    backend = TogetherBackend(project)
    follow(backend, backend.start(make_spec(project, "together", model=MODEL)))
    served = [(r, reply) for r, reply in fake_together.replies if r.path.endswith("/events")]
    assert served and not [p for r, reply in served for p in response_problems(together_spec, r, reply)]


def test_the_contract_check_rejects_what_the_api_would_refuse(together_spec) -> None:
    from tests.hosted.fake_http import Recorded, Reply

    create = _operation(together_spec, "POST", "/v1/fine-tunes")["requestBody"]["content"]["application/json"]["schema"]
    good = {"model": MODEL, "training_file": "file-1", "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16}}
    assert not _problems(together_spec, create, good)
    assert _problems(together_spec, create, {"model": MODEL})
    assert _problems(together_spec, create, {**good, "training_type": {"type": "Lora"}})
    assert _problems(together_spec, create, {**good, "n_epochs": "3"})
    query = Recorded("GET", "/v1/fine-tunes/models/limits", {"model": [MODEL]}, {})
    assert request_problems(together_spec, query)  # the parameter is model_name
    job = Recorded("GET", "/v1/fine-tunes/ft-1", {}, {})
    valid = {"id": "ft-1", "status": "running", "created_at": "2026-11-28T07:00:00Z", "updated_at": "2026-11-28T07:00:00Z"}
    assert not response_problems(together_spec, job, Reply(body=valid))
    assert response_problems(together_spec, job, Reply(body={**valid, "status": "exploded"}))
    assert response_problems(together_spec, job, Reply(body={**valid, "model_output_name": None}))
