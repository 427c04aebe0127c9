"""Every request the Azure backend sends, and every answer its fake serves, checked against Microsoft's
published Azure OpenAI authoring API (`../shared/azure/azureopenai-2025-04-01-preview.yaml`, Swagger 2.0).

Requests: the path and method are an operation of the spec; every query parameter and form field is
one the operation declares, required ones present; a JSON body validates against the operation's
schema *and* carries no field the schema does not name (Azure's definitions leave
`additionalProperties` open, so JSON Schema alone would let `metadata` through). The one field
allowed beyond the spec is `trainingType`, sent only when `[azure] training_type` is set.
Answers: each validates against the response the operation declares for its status, again with no
unnamed field. Swagger 2.0 cannot say "nullable", so a null value is read as an absent field.
Chat (`/openai/deployments/{name}/chat/completions`) is Azure's inference API, not in this spec.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from backends.hosted import azure_wire
from backends.azure_ft import AzureOpenAIBackend
from tests.hosted import fake_azure
from tests.hosted.conftest import follow, make_spec, published_spec

SPEC_URN = "urn:azure-authoring-spec"
CHAT = re.compile(r"^/openai/deployments/[^/]+/chat/completions$")
@pytest.fixture
def azure_spec(shared_dir: Path) -> dict[str, Any]:
    return published_spec(shared_dir, "azure/azureopenai-2025-04-01-preview.yaml")


class Contract:
    """The spec, and the checks a request or an answer must pass; each returns a list of problems."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from jsonschema import Draft4Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self.spec = spec
        self._registry = Registry().with_resource(SPEC_URN, Resource.from_contents(spec, default_specification=DRAFT4))
        self._validator = Draft4Validator

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        path = path.removeprefix("/openai")  # the spec's host template ends in /openai
        for template, item in self.spec["paths"].items():
            if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path) and method.lower() in item:
                return item[method.lower()]
        return None

    def parameters(self, operation: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
        params = [self.resolve(p) for p in operation.get("parameters", [])]
        return {p["name"]: p for p in params if p["in"] == where}

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            *_, section, name = node["$ref"].split("/")
            node = self.spec[section][name]
        return node

    def problems(self, schema: dict[str, Any], value: Any, allowed_extra: frozenset[str] = frozenset()) -> list[str]:
        value = _without_nulls(value)
        rooted = _reroot(schema)
        errors = [f"{e.message} at {list(e.absolute_path)}" for e in self._validator(rooted, registry=self._registry).iter_errors(value)]
        return errors + self.unnamed_fields(schema, value, "", allowed_extra)

    def unnamed_fields(self, schema: dict[str, Any], value: Any, at: str, allowed_extra: frozenset[str] = frozenset()) -> list[str]:
        """Fields of `value` that its schema (through $ref and allOf) never names."""
        schema = self.resolve(schema)
        if isinstance(value, list) and "items" in schema:
            return [p for i, item in enumerate(value) for p in self.unnamed_fields(schema["items"], item, f"{at}[{i}]")]
        if not isinstance(value, dict) or schema.get("type") not in (None, "object") or "additionalProperties" in schema:
            return []
        named = self.properties(schema)
        if not named:
            return []  # a free-form object, such as an event's `data`
        found = [f"{at}.{key}".lstrip(".") + " is not in the spec" for key in value if key not in named and key not in allowed_extra]
        for key, item in value.items():
            if key in named:
                found += self.unnamed_fields(named[key], item, f"{at}.{key}")
        return found

    def properties(self, schema: dict[str, Any]) -> dict[str, Any]:
        schema = self.resolve(schema)
        named = dict(schema.get("properties") or {})
        for part in schema.get("allOf") or []:
            named.update(self.properties(part))
        return named

    def check_request(self, request: Any) -> list[str]:
        operation = self.operation(request.method, request.path)
        if operation is None:
            return [f"{request.method} {request.path} is not an operation of the Azure authoring API"]
        found = []
        query = self.parameters(operation, "query")
        found += [f"query parameter {k!r} is not declared" for k in request.query if k not in query]
        found += [f"required query parameter {k!r} is missing" for k, p in query.items() if p.get("required") and k not in request.query]
        if request.form is not None:
            form = self.parameters(operation, "formData")
            found += [f"form field {k!r} is not declared" for k in request.form if k not in form]
            found += [f"required form field {k!r} is missing" for k, p in form.items() if p.get("required") and k not in request.form]
            found += [f"form field {k!r} = {v!r} is not one of its enum" for k, v in request.form.items()
                      if k in form and "enum" in form[k] and v not in form[k]["enum"]]  # fmt: skip
        if request.json is not None:
            (body,) = self.parameters(operation, "body").values()
            found += self.problems(body["schema"], request.json, frozenset(fake_azure.UNDOCUMENTED_JOB_FIELDS))
        return found

    def check_answer(self, request: Any, reply: Any) -> list[str]:
        operation = self.operation(request.method, request.path)
        declared = operation["responses"].get(str(reply.status)) or operation["responses"].get("default")
        if declared is None:
            return [f"HTTP {reply.status} is not a response of {operation['operationId']}"]
        if reply.status < 400 and str(reply.status) not in operation["responses"]:
            return [f"{operation['operationId']} answers {sorted(operation['responses'])}, not {reply.status}"]
        return self.problems(declared["schema"], reply.body) if "schema" in declared else []


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _reroot(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (SPEC_URN + v if k == "$ref" and v.startswith("#") else _reroot(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_reroot(v) for v in node]
    return node


def test_every_request_and_every_answer_matches_the_published_spec(azure_spec, fake_azure, project) -> None:
    contract = Contract(azure_spec)
    backend = AzureOpenAIBackend(project)
    assert backend.check("gpt-4o-mini-2024-07-18").ok
    fake_azure.fail("POST", "/openai/fine_tuning/jobs$", drop=True)  # so the job list is asked for too
    run_id = backend.start(make_spec(project, "azure", epochs=2, batch_size=4, options={"learning_rate_multiplier": 0.5}))
    backend.pause(run_id)
    backend.resume(run_id)
    follow(backend, run_id)
    ref = backend.result(run_id)
    fake_azure.deploy("tickets", ref.model_id)
    settings = project.settings()
    settings.azure.deployments = {ref.model_id: "tickets"}
    settings.azure.training_type = "Standard"
    project.save_settings(settings)
    backend = AzureOpenAIBackend(project)
    backend.generate(ref, [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]])
    "".join(backend.stream(ref, [{"role": "user", "content": "hi"}]))
    backend.cancel(backend.start(make_spec(project, "azure", val_file=None, suffix=None)))

    checked = set()
    for request, reply in fake_azure.served:
        if CHAT.match(request.path):
            continue
        problems = contract.check_request(request) + contract.check_answer(request, reply)
        assert not problems, f"{request.method} {request.path} -> {reply.status}: {problems}"
        checked.add(contract.operation(request.method, request.path)["operationId"])
    assert {
        "Models_List", "Files_Upload", "FineTuning_Create", "FineTuning_List", "FineTuning_Get", "FineTuning_GetEvents",
        "FineTuning_GetCheckpoints", "FineTuning_Pause", "FineTuning_Resume", "FineTuning_Cancel",
    } <= checked  # fmt: skip
    assert {r.path for r, _ in fake_azure.served if CHAT.match(r.path)} == {"/openai/deployments/tickets/chat/completions"}


def test_the_contract_check_rejects_what_azure_would_refuse(azure_spec) -> None:
    contract = Contract(azure_spec)
    schema = contract.parameters(contract.operation("POST", "/openai/fine_tuning/jobs"), "body")["fineTuningJob"]["schema"]
    good = {"model": "gpt-4o-mini-2024-07-18", "training_file": "file-1", "hyperparameters": {"n_epochs": 2}, "suffix": "tickets"}
    assert contract.problems(schema, good) == []
    openai_style = {**good, "metadata": {"tuneui_run": "r1"}, "method": {"type": "supervised", "supervised": {"hyperparameters": {}}}}
    assert sorted(contract.problems(schema, openai_style)) == ["metadata is not in the spec", "method.supervised is not in the spec"]
    assert contract.problems(schema, {"model": "gpt-4o-mini-2024-07-18"})
    assert contract.problems(schema, {**good, "hyperparameters": {"n_epochs": "three"}})


def test_the_backend_and_the_fake_agree_with_the_specs_vocabulary(azure_spec) -> None:
    contract = Contract(azure_spec)
    definitions = azure_spec["definitions"]
    assert set(azure_wire.STATUS_MAP) == set(definitions["FineTuningState"]["enum"])
    assert "warning" in definitions["LogLevel"]["enum"]
    assert fake_azure.JOB_FIELDS == set(contract.properties(definitions["FineTuningJobCreation"]))
    assert fake_azure.HYPERPARAMETERS == set(contract.properties(definitions["FineTuningHyperParameters"]))
    upload = contract.operation("POST", "/openai/files")
    assert fake_azure.UPLOAD_FIELDS == set(contract.parameters(upload, "formData"))
    assert "metadata" not in contract.properties(definitions["FineTuningJob"])
    model = definitions["Model"]
    assert {"lifecycle_status", "deprecation", "capabilities"} <= set(model["required"])
    assert "shutdown_date" not in contract.properties(model)
