"""A stateful fake of Azure OpenAI as its authoring API (2025-04-01-preview) describes it, plus chat
through deployments.

It refuses what Azure refuses: any request without `?api-version=`; a job body with a field the
spec's `FineTuningJobCreation` lacks (`metadata`, a `method` carrying hyperparameters, ...; the one
exception is `trainingType`, which live clients send and the spec omits); a suffix over 40
characters or outside `[A-Za-z0-9-_]`; chat on any name that is not a deployment (404
`DeploymentNotFound`, as a fine-tuned model id is until someone deploys it). Jobs go pending ->
running -> succeeded (`pausing`/`paused`/`resuming` on pause and resume); metric events carry no
`total_steps`; one event has level `warning`; models carry `capabilities`, `lifecycle_status` and
`deprecation` dates. The job list takes only `after` and `limit` (Azure has no metadata filter).

    with FakeAzure() as server:
        settings.openai.azure_endpoint = server.azure_endpoint
        server.deploy("my-deployment", "gpt-4o-mini-2024-07-18.ft-...")   # what `az ... deployment create` does
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from tests.hosted.fake_http import Recorded, Reply
from tests.hosted.fake_openai import FakeOpenAI

API_VERSION = "2025-04-01-preview"
# FineTuningJobCreation's properties in the spec, and the one field live clients add to them.
JOB_FIELDS = {"model", "training_file", "validation_file", "hyperparameters", "suffix", "seed", "integrations", "method"}
UNDOCUMENTED_JOB_FIELDS = {"trainingType"}
HYPERPARAMETERS = {"n_epochs", "batch_size", "learning_rate_multiplier"}
UPLOAD_FIELDS = {"purpose", "file", "expires_after.anchor", "expires_after.seconds"}
SUFFIX = re.compile(r"[A-Za-z0-9_-]{1,40}")
YEAR = 365 * 24 * 3600


def azure_error(status: int, code: str, message: str) -> Reply:
    """Azure's ErrorResponse: `{"error": {"code", "message"}}` (codes from the spec's ErrorCode)."""
    return Reply(status, {"error": {"code": code, "message": message}})


class FakeAzure(FakeOpenAI):
    api_root = "/openai"

    def __init__(self, steps: int = 4, outcome: str = "succeeded") -> None:
        super().__init__(steps=steps, outcome=outcome)
        now = int(time.time())
        self.models = [_base_model("gpt-4o-mini-2024-07-18", now), _base_model("gpt-4.1-2025-04-14", now)]
        self.deployments: dict[str, str] = {}  # deployment name -> model id

    @property
    def azure_endpoint(self) -> str:
        return self.root_url

    def deploy(self, name: str, model: str) -> None:
        """Create a deployment of a model this resource has, as Azure Resource Manager would."""
        known = {m["id"] for m in self.models} | {j["fine_tuned_model"] for j in self.jobs.values() if j.get("fine_tuned_model")}
        assert model in known, f"Azure would refuse to deploy unknown model {model}"
        self.deployments[name] = model

    def _dispatch(self, request: Recorded) -> Reply:
        if not (request.query.get("api-version") or [""])[0]:
            return azure_error(404, "notFound", "Resource not found: the api-version query parameter is missing")
        return super()._dispatch(request)

    def _chat_route(self) -> None:
        self.route("POST", "/openai/deployments/(?P<deployment>[^/]+)/chat/completions", self._chat)

    def _chat(self, request: Recorded, match: Any) -> Reply:
        model = self.deployments.get(match["deployment"])
        if model is None:
            return Reply(404, {"error": {"code": "DeploymentNotFound", "message": (
                "The API deployment for this resource does not exist. If you created the deployment "
                "within the last 5 minutes, please wait a moment and try again.")}})
        return self._chat_reply(request.json or {}, model)

    # -- files, models and jobs -----------------------------------------------------------------

    def _upload(self, request: Recorded, match: Any) -> Reply:
        unknown = set(request.form or {}) - UPLOAD_FIELDS
        if unknown:
            return azure_error(400, "invalidPayload", f"Unknown form fields: {sorted(unknown)}")
        reply = super()._upload(request, match)
        if reply.status == 200:
            reply.status = 201
            reply.body = {k: v for k, v in reply.body.items() if k != "status_details"}
        return reply

    def _list_models(self, request: Recorded, match: Any) -> Reply:
        now = int(time.time())
        tuned = [
            {"object": "model", "id": job["fine_tuned_model"], "created_at": job["finished_at"], "status": "succeeded",
             "model": job["model"], "fine_tune": job["id"], "lifecycle_status": "generally-available",
             "capabilities": {"fine_tune": False, "inference": True, "completion": False, "chat_completion": True, "embeddings": False},
             "deprecation": {"inference": now + YEAR}}
            for job in self.jobs.values() if job.get("fine_tuned_model")
        ]
        return Reply(body={"object": "list", "data": self.models + tuned})

    def _create(self, request: Recorded, match: Any) -> Reply:
        body = request.json or {}
        unknown = set(body) - JOB_FIELDS - UNDOCUMENTED_JOB_FIELDS
        unknown |= {f"hyperparameters.{k}" for k in body.get("hyperparameters") or {}} - {f"hyperparameters.{k}" for k in HYPERPARAMETERS}
        unknown |= {f"method.{k}" for k in body.get("method") or {}} - {"method.type"}
        if unknown:
            return azure_error(400, "invalidPayload", f"The request has fields the API does not know: {sorted(unknown)}")
        if "suffix" in body and not SUFFIX.fullmatch(str(body["suffix"])):
            return azure_error(400, "invalidPayload", "The suffix can contain up to 40 characters (a-z, A-Z, 0-9, - and _).")
        if body.get("model") not in {m["id"] for m in self.models if m["capabilities"]["fine_tune"]}:
            return azure_error(400, "invalidPayload", "The specified base model does not support fine-tuning.")
        for role in ("training_file", "validation_file"):
            if role in body and body[role] not in self.files:
                return azure_error(400, "invalidPayload", f"The {role} {body[role]} does not exist.")
        job_id = f"ftjob-{uuid.uuid4().hex}"
        job = {
            "object": "fine_tuning.job", "id": job_id, "created_at": int(time.time()), "status": "pending",
            "model": body["model"], "training_file": body["training_file"], "result_files": [],
            "hyperparameters": {"n_epochs": 1, **(body.get("hyperparameters") or {})}, "seed": body.get("seed", 42),
            "fine_tuned_model": None, "finished_at": None, "error": None, "estimated_finish": None,
        }
        for optional in ("validation_file", "suffix"):
            if optional in body:
                job[optional] = body[optional]
        self.jobs[job_id] = job
        self.events[job_id] = []
        self.checkpoints[job_id] = []
        self._progress[job_id] = {"step": 0, "ticks": 0, "paused": False, "shown_unknown": False}
        self._event(job_id, "Job enqueued. Waiting for jobs ahead to complete.")
        self._event(job_id, "Training file has 2 examples with more than 16,384 tokens; they will be truncated.", level="warning")
        return Reply(201, job)

    def _control(self, action: str):
        moving = {"pause": "pausing", "resume": "resuming", "cancel": "cancelled"}[action]

        def handle(request: Recorded, match: Any) -> Reply:
            job = self.jobs.get(match["id"])
            if job is None:
                return azure_error(404, "notFound", f"Job {match['id']} not found.")
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return azure_error(409, "unexpectedEntityState", f"The job is already {job['status']}.")
            job["status"] = moving
            if action == "cancel":
                job["finished_at"] = int(time.time())
            self._event(job["id"], f"Job {moving}.")
            return Reply(body=job)

        return handle

    # -- the lifecycle --------------------------------------------------------------------------

    def _tick(self, job: dict[str, Any]) -> None:
        state = job["status"]
        if state == "pending":
            if self.outcome == "validation_failed":
                self._fail(job, "invalidPayload", "Training file validation failed: line 3 has no 'messages'.", "training_file")
                return
            job["status"] = "running"
            self._event(job["id"], "Job started.")
        elif state in ("pausing", "resuming"):
            job["status"] = "paused" if state == "pausing" else "running"
            self._event(job["id"], f"Job {job['status']}.")
        else:
            super()._tick(job)

    def _succeed(self, job: dict[str, Any]) -> None:
        name = f"{job['model']}.ft-{job['id'][-32:]}" + (f"-{job['suffix']}" if job.get("suffix") else "")
        job.update(status="succeeded", fine_tuned_model=name, finished_at=int(time.time()), trained_tokens=1234 * self.steps)
        self._event(job["id"], f"Completed results file: file-results-{job['id'][-6:]}")
        self._event(job["id"], "Training job successfully completed.")

    def _event(self, job_id: str, message: str, kind: str = "message", data: dict | None = None, level: str = "info") -> None:
        # Azure's metric events may lack total_steps (the spec leaves `data` free; live ones omit it).
        trimmed = {k: v for k, v in (data or {}).items() if k != "total_steps"}
        super()._event(job_id, message, kind, trimmed, level)


def _base_model(model_id: str, now: int) -> dict[str, Any]:
    return {
        "object": "model", "id": model_id, "created_at": now - YEAR, "status": "succeeded",
        "lifecycle_status": "generally-available",
        "capabilities": {"fine_tune": True, "inference": True, "completion": False, "chat_completion": True, "embeddings": False},
        "deprecation": {"fine_tune": now + YEAR, "inference": now + 2 * YEAR},
    }
