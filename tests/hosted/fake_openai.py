"""A stateful fake of the OpenAI API (files, fine-tuning jobs, events, checkpoints, models, chat).

Start it from the fixture in `tests/hosted/conftest.py` (`fake_openai`, which also points
`OPENAI_BASE_URL`/`OPENAI_API_KEY` at it), or by hand:

    with FakeOpenAI(steps=4) as server:
        os.environ["OPENAI_BASE_URL"] = server.base_url      # http://127.0.0.1:PORT/v1
        os.environ["OPENAI_API_KEY"] = server.api_key

A job advances one tick each time it is retrieved (`GET /fine_tuning/jobs/{id}`):
validating_files -> queued -> running (one `metrics` event per step, a checkpoint half-way and at
the end) -> the `outcome` ("succeeded", "failed" with an error object after two steps,
"validation_failed" straight from validating_files). `unknown_status="x"` shows status "x" for one
tick after the first step. `POST .../cancel` cancels, `.../pause` and `.../resume` do what they say.
Events list newest first with `limit`/`after`/`has_more`. Chat completions answer
`server.chat_reply` (with `server.echo = True`, the last user message), streamed in words when
`stream=true`. Faults: see `fake_http`. `server.advance(job_id)` runs a job to its end
server-side. Inspect `server.jobs`, `server.files`, `server.events[job_id]`, `server.requests`.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from tests.hosted.fake_http import FakeServer, Recorded, Reply, error_reply


class FakeOpenAI(FakeServer):
    api_root = "/v1"  # every route but chat lives under it (FakeAzure: /openai)

    def __init__(self, steps: int = 4, outcome: str = "succeeded", unknown_status: str | None = None) -> None:
        super().__init__()
        self.steps = steps
        self.outcome = outcome
        self.unknown_status = unknown_status
        self.chat_reply = "Hello from the fine-tuned model"
        self.echo = False  # True: reply with the last user message, to check order
        self.models = [
            {"id": "gpt-4o-mini-2024-07-18", "object": "model", "created": 1721172741, "owned_by": "system", "shutdown_date": None},
            {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system", "shutdown_date": None},
            {"id": "gpt-4.1-nano", "object": "model", "created": 1744321025, "owned_by": "system", "shutdown_date": "2026-10-23"},
        ]
        self.files: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.checkpoints: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._progress: dict[str, dict[str, Any]] = {}
        v1 = self.api_root
        self.route("POST", v1 + "/files", self._upload)
        self.route("GET", v1 + "/models", self._list_models)
        self.route("POST", v1 + "/fine_tuning/jobs", self._create)
        self.route("GET", v1 + "/fine_tuning/jobs", self._list_jobs)
        self.route("GET", v1 + r"/fine_tuning/jobs/(?P<id>[^/]+)", self._retrieve)
        self.route("GET", v1 + r"/fine_tuning/jobs/(?P<id>[^/]+)/events", self._list_events)
        self.route("GET", v1 + r"/fine_tuning/jobs/(?P<id>[^/]+)/checkpoints", self._list_checkpoints)
        for action in ("cancel", "pause", "resume"):
            self.route("POST", v1 + rf"/fine_tuning/jobs/(?P<id>[^/]+)/{action}", self._control(action))
        self._chat_route()

    def _chat_route(self) -> None:
        self.route("POST", self.api_root + "/chat/completions", self._chat)

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def advance(self, job_id: str, ticks: int = 1000) -> None:
        """Move a job on as if the provider kept training while nobody was watching."""
        with self.lock:
            for _ in range(ticks):
                if self.jobs[job_id]["status"] in ("succeeded", "failed", "cancelled"):
                    return
                self._tick(self.jobs[job_id])

    def metric_events(self, job_id: str) -> list[dict[str, Any]]:
        return [e for e in self.events.get(job_id, []) if e.get("type") == "metrics"]

    # -- files and jobs -----------------------------------------------------------------------

    def _list_models(self, request: Recorded, match: Any) -> Reply:
        return Reply(body={"object": "list", "data": self.models})

    def _upload(self, request: Recorded, match: Any) -> Reply:
        form = request.form or {}
        if form.get("purpose") != "fine-tune" or not isinstance(form.get("file"), bytes):
            return error_reply(400, "Expected a file and purpose=fine-tune", "invalid_request_error")
        file_id = f"file-{next(self._ids):04d}"
        self.files[file_id] = {
            "id": file_id, "object": "file", "bytes": len(form["file"]), "created_at": int(time.time()),
            "filename": "upload.jsonl", "purpose": "fine-tune", "status": "processed",
        }
        return Reply(body=self.files[file_id])

    def _create(self, request: Recorded, match: Any) -> Reply:
        body = request.json or {}
        if body.get("training_file") not in self.files:
            return error_reply(400, f"invalid training_file: {body.get('training_file')}", "invalid_request_error")
        job_id = f"ftjob-{next(self._ids):04d}"
        hyper = ((body.get("method") or {}).get("supervised") or {}).get("hyperparameters") or {}
        self.jobs[job_id] = {
            "object": "fine_tuning.job", "id": job_id, "model": body["model"], "created_at": int(time.time()),
            "fine_tuned_model": None, "finished_at": None, "organization_id": "org-test", "result_files": [],
            "status": "validating_files", "validation_file": body.get("validation_file"),
            "training_file": body["training_file"], "hyperparameters": {"n_epochs": hyper.get("n_epochs", "auto")},
            "trained_tokens": None, "error": None, "seed": body.get("seed", 0), "metadata": body.get("metadata"),
            "method": body.get("method"), "estimated_finish": None, "integrations": [],
        }
        self.events[job_id] = []
        self.checkpoints[job_id] = []
        self._progress[job_id] = {"step": 0, "ticks": 0, "paused": False, "shown_unknown": False}
        self._event(job_id, "Validating training file: " + body["training_file"])
        return Reply(body=self.jobs[job_id])

    def _list_jobs(self, request: Recorded, match: Any) -> Reply:
        wanted = {key[len("metadata["):-1]: values[0] for key, values in request.query.items() if key.startswith("metadata[")}
        jobs = [j for j in reversed(list(self.jobs.values())) if all((j.get("metadata") or {}).get(k) == v for k, v in wanted.items())]
        return Reply(body=_page(jobs, request))

    def _retrieve(self, request: Recorded, match: Any) -> Reply:
        job = self.jobs.get(match["id"])
        if job is None:
            return error_reply(404, f"No fine-tuning job {match['id']}", "invalid_request_error")
        self._tick(job)
        return Reply(body=job)

    def _list_events(self, request: Recorded, match: Any) -> Reply:
        if match["id"] not in self.jobs:
            return error_reply(404, "No such job", "invalid_request_error")
        return Reply(body=_page(list(reversed(self.events[match["id"]])), request))

    def _list_checkpoints(self, request: Recorded, match: Any) -> Reply:
        return Reply(body=_page(list(reversed(self.checkpoints.get(match["id"], []))), request))

    def _control(self, action: str):
        def handle(request: Recorded, match: Any) -> Reply:
            job = self.jobs.get(match["id"])
            if job is None:
                return error_reply(404, "No such job", "invalid_request_error")
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return error_reply(400, f"Job is already {job['status']}", "invalid_request_error")
            if action == "cancel":
                job["status"], job["finished_at"] = "cancelled", int(time.time())
                self._event(job["id"], "Fine-tuning job cancelled")
            else:
                self._progress[job["id"]]["paused"] = action == "pause"
                job["status"] = "paused" if action == "pause" else "running"
                self._event(job["id"], f"Fine-tuning job {action}d")
            return Reply(body=job)

        return handle

    # -- the lifecycle --------------------------------------------------------------------------

    def _tick(self, job: dict[str, Any]) -> None:
        progress = self._progress[job["id"]]
        state = job["status"]
        if state in ("succeeded", "failed", "cancelled", "paused"):
            return
        if state == "validating_files":
            if self.outcome == "validation_failed":
                self._fail(job, "invalid_training_file", "The job failed due to an invalid training file. Line 3: missing 'messages'.", "training_file")
                return
            job["status"] = "queued"
            self._event(job["id"], "Files validated, moving job to queued state")
        elif state == "queued":
            job["status"] = "running"
            self._event(job["id"], "Fine-tuning job started")
        elif self.unknown_status and progress["step"] == 1 and not progress["shown_unknown"]:
            progress["shown_unknown"] = True
            job["status"] = self.unknown_status
        else:
            job["status"] = "running"
            if self.outcome == "failed" and progress["step"] == 2:
                self._fail(job, "server_error", "The job failed due to an internal error.", None)
                return
            if progress["step"] < self.steps:
                self._step(job, progress)
            else:
                self._succeed(job)

    def _step(self, job: dict[str, Any], progress: dict[str, Any]) -> None:
        progress["step"] += 1
        step = progress["step"]
        data = {"step": step, "train_loss": round(2.0 / step, 4), "total_steps": self.steps, "train_mean_token_accuracy": round(0.5 + step / 100, 3)}
        if job.get("validation_file"):
            data.update(valid_loss=round(2.2 / step, 4), valid_mean_token_accuracy=round(0.45 + step / 100, 3))
        if step == self.steps and job.get("validation_file"):
            data.update(full_valid_loss=round(2.1 / step, 4), full_valid_mean_token_accuracy=0.6)
        self._event(job["id"], f"Step {step}/{self.steps}: training loss={data['train_loss']}", "metrics", data)
        if step in (max(1, self.steps // 2), self.steps):
            self.checkpoints[job["id"]].append({
                "object": "fine_tuning.job.checkpoint", "id": f"ftckpt-{job['id']}-{step}", "created_at": int(time.time()),
                "fine_tuned_model_checkpoint": f"ft:{job['model']}:org-test::{job['id'][-4:]}:ckpt-step-{step}",
                "step_number": step, "metrics": {k: v for k, v in data.items() if k != "total_steps"}, "fine_tuning_job_id": job["id"],
            })
            self._event(job["id"], f"Checkpoint created at step {step}")

    def _succeed(self, job: dict[str, Any]) -> None:
        job.update(status="succeeded", fine_tuned_model=f"ft:{job['model']}:org-test::{job['id'][-4:]}",
                   finished_at=int(time.time()), trained_tokens=1234 * self.steps)
        self._event(job["id"], f"New fine-tuned model created: {job['fine_tuned_model']}")
        self._event(job["id"], "The job has successfully completed")

    def _fail(self, job: dict[str, Any], code: str, message: str, param: str | None) -> None:
        job.update(status="failed", finished_at=int(time.time()), error={"code": code, "message": message, "param": param})
        self._event(job["id"], message, level="error")

    def _event(self, job_id: str, message: str, kind: str = "message", data: dict | None = None, level: str = "info") -> None:
        self.events[job_id].append({
            "object": "fine_tuning.job.event", "id": f"ftevent-{next(self._ids):05d}", "created_at": int(time.time()),
            "level": level, "message": message, "data": data or {}, "type": kind,
        })

    # -- chat -----------------------------------------------------------------------------------

    def _chat(self, request: Recorded, match: Any) -> Reply:
        body = request.json or {}
        model = body.get("model", "")
        known = {m["id"] for m in self.models} | {j["fine_tuned_model"] for j in self.jobs.values() if j["fine_tuned_model"]}
        if model not in known:
            return error_reply(404, f"The model {model} does not exist", "invalid_request_error", "model_not_found")
        return self._chat_reply(body, model)

    def _chat_reply(self, body: dict[str, Any], model: str) -> Reply:
        reply = _last_user_text(body) if self.echo else self.chat_reply
        if body.get("stream"):
            chunks = [
                {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model,
                 "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                for word in _words(reply)
            ]
            raw = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            return Reply(raw=raw.encode(), content_type="text/event-stream")
        return Reply(body={
            "id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
        })


def _page(items: list[dict[str, Any]], request: Recorded) -> dict[str, Any]:
    """A cursor page: `after` is the id of the last item the caller saw."""
    limit = int((request.query.get("limit") or ["20"])[0])
    after = (request.query.get("after") or [None])[0]
    start = 0
    if after is not None:
        start = next((i + 1 for i, item in enumerate(items) if item["id"] == after), len(items))
    chunk = items[start:start + limit]
    return {"object": "list", "data": chunk, "has_more": start + limit < len(items)}


def _last_user_text(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
