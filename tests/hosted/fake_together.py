"""A stateful fake of the Together AI fine-tuning API (files, fine-tunes, events, metrics, download, chat).

Start it from the `fake_together` fixture in `tests/hosted/conftest.py` (which writes its address
into the project's `[together] base_url` and sets TOGETHER_API_KEY), or by hand:

    with FakeTogether(steps=4) as server:
        settings.together.base_url = server.base_url           # http://127.0.0.1:PORT/v1

A job advances one tick each time it is retrieved (`GET /fine-tunes/{id}`): pending -> queued ->
running (one train metric row per step, an eval row every second step, a checkpoint_save event
at the end) -> compressing -> uploading -> `outcome` ("completed", or "error" after two steps with
a job_error event). `POST /fine-tunes/{id}/cancel` gives cancel_requested, then cancelled.
With `outcome="user_error"` the job is refused for its data after `queued` (a status word and a
`job_user_error` event that only the official SDKs know). `event_case="upper"` writes event types
as the SDKs' validators do (`JOB_ERROR`, `CHECKPOINT_SAVE`), not as the spec does.
`GET /finetune/download?ft_id=..&checkpoint=adapter` answers, like Together, with a 302 to a
presigned URL on a second server (`server.storage`, which wants no key and records the headers it
got); that serves a tar.gz (or, with `archive="tar.zst"`, a tar.zst) holding
`adapter_config.json` and `adapter_model.safetensors`, or `server.adapter_archive` when set (the
hostile-archive tests). `GET /fine-tunes/models/supported|limits` and `POST
/fine-tunes/estimate-price` answer in the spec's shapes. Chat completions answer `server.chat_reply`
(with `server.echo = True`, the last user message); a fine-tuned model is served only while
`server.serverless_lora` is true, as for the few base models Together serves LoRAs of, or through
a dedicated endpoint (`POST /endpoints`, started after two `GET`s, stopped by `PATCH`).
Faults and the request log: see `fake_http`.
"""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import tarfile
import time
from typing import Any

from tests.hosted.fake_http import FakeServer, Recorded, Reply, error_reply

ADAPTER_FILES = {
    "adapter_config.json": json.dumps({"peft_type": "LORA", "r": 16, "lora_alpha": 32, "target_modules": "all-linear"}).encode(),
    "adapter_model.safetensors": b"\x00" * 64,
}


PRICE_PER_TOKEN = 0.48e-6  # the fake's bill, for the estimate endpoint


class StorageServer(FakeServer):
    """Object storage behind presigned URLs: serves what `objects` holds, asks for no key."""

    requires_key = False

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, bytes] = {}
        self.route("GET", r"/presigned/(?P<name>[^/]+)", self._get)

    def _get(self, request: Recorded, match: Any) -> Reply:
        if (request.query.get("X-Amz-Signature") or [""])[0] != "sig" or match["name"] not in self.objects:
            return Reply(403, raw=b"<Error><Code>AccessDenied</Code></Error>", content_type="application/xml")
        return Reply(raw=self.objects[match["name"]], content_type="application/octet-stream")


class FakeTogether(FakeServer):
    def __init__(self, steps: int = 4, outcome: str = "completed", archive: str = "tar.gz", event_case: str = "lower") -> None:
        super().__init__()
        self.steps = steps
        self.outcome = outcome
        self.archive = archive
        self.event_case = event_case
        self.storage = StorageServer()
        self.adapter_archive: bytes | None = None
        self.serverless_lora = True
        self.allowed_to_proceed = True  # the estimate's verdict on the account's credit
        self.endpoints: dict[str, dict[str, Any]] = {}  # dedicated endpoints: PENDING -> STARTING -> STARTED
        self.supported = ["meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", "Qwen/Qwen2.5-7B-Instruct"]
        self.chat_reply = "Hello from the LoRA"
        self.echo = False  # True: reply with the last user message, to check order
        self.models = [{"id": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", "object": "model", "type": "chat", "created": 1721692800}]
        self.files: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.metrics: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._step: dict[str, int] = {}
        v1 = "/v1"
        self.route("POST", v1 + "/files/upload", self._upload)
        self.route("GET", v1 + "/models", lambda r, m: Reply(body=self.models))
        self.route("POST", v1 + "/fine-tunes", self._create)
        self.route("POST", v1 + "/fine-tunes/estimate-price", self._estimate)
        self.route("GET", v1 + "/fine-tunes/models/supported", lambda r, m: Reply(body={"models": self.supported}))
        self.route("GET", v1 + "/fine-tunes/models/limits", self._limits)
        self.route("GET", v1 + "/hardware", self._hardware)
        self.route("POST", v1 + "/endpoints", self._create_endpoint)
        self.route("GET", v1 + r"/endpoints/(?P<id>[^/]+)", self._get_endpoint)
        self.route("PATCH", v1 + r"/endpoints/(?P<id>[^/]+)", self._update_endpoint)
        self.route("GET", v1 + "/fine-tunes", lambda r, m: Reply(body={"data": list(self.jobs.values())}))
        self.route("GET", v1 + r"/fine-tunes/(?P<id>[^/]+)", self._retrieve)
        self.route("GET", v1 + r"/fine-tunes/(?P<id>[^/]+)/events", lambda r, m: Reply(body={"data": self.events.get(m["id"], [])}))
        self.route("GET", v1 + r"/fine-tunes/(?P<id>[^/]+)/metrics", self._metrics)
        self.route("POST", v1 + r"/fine-tunes/(?P<id>[^/]+)/cancel", self._cancel)
        self.route("GET", v1 + "/finetune/download", self._download)
        self.route("POST", v1 + "/chat/completions", self._chat)

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def start(self) -> "FakeTogether":
        self.storage.start()
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        self.storage.stop()

    def _limits(self, request: Recorded, match: Any) -> Reply:
        name = (request.query.get("model_name") or [""])[0]
        if name not in self.supported:
            return Reply(404, {"message": f"Model {name} is not supported for fine-tuning"})
        lora = {"max_batch_size": 96, "max_batch_size_dpo": 48, "min_batch_size": 8, "max_rank": 64, "target_modules": ["q_proj", "v_proj"]}
        return Reply(body={"model_name": name, "lora_training": lora, "max_num_epochs": 20, "max_num_evals": 100,
                           "max_learning_rate": 1.0, "min_learning_rate": 1e-8, "supports_vision": False,
                           "supports_tools": True, "supports_reasoning": False, "merge_output_lora": False})

    def _hardware(self, request: Recorded, match: Any) -> Reply:
        def config(name: str, cents: float, gpus: int, status: str) -> dict[str, Any]:
            specs = {"gpu_type": "h100-80gb", "gpu_link": "sxm", "gpu_memory": 80, "gpu_count": gpus}
            return {"object": "hardware", "id": name, "pricing": {"cents_per_minute": cents}, "specs": specs,
                    "availability": {"status": status}, "updated_at": "2026-11-28T07:00:00Z"}

        return Reply(body={"object": "list", "data": [
            config("1x_nvidia_h100_80gb_sxm", 5.42, 1, "unavailable"),
            config("2x_nvidia_h100_80gb_sxm", 10.84, 2, "available"),
            config("4x_nvidia_h100_80gb_sxm", 21.68, 4, "available"),
        ]})

    def _create_endpoint(self, request: Recorded, match: Any) -> Reply:
        body = request.json or {}
        endpoint_id = f"endpoint-{next(self._ids):04d}"
        self.endpoints[endpoint_id] = {
            "object": "endpoint", "id": endpoint_id, "name": f"tuneui-user/{body.get('model', '').split('/')[-1]}-{endpoint_id}",
            "display_name": body.get("display_name", ""), "model": body.get("model"), "hardware": body.get("hardware"),
            "type": "dedicated", "owner": "tuneui-user", "state": "PENDING", "autoscaling": body.get("autoscaling"),
            "created_at": _iso(),
        }
        return Reply(body=self.endpoints[endpoint_id])

    def _get_endpoint(self, request: Recorded, match: Any) -> Reply:
        endpoint = self.endpoints.get(match["id"])
        if endpoint is None:
            return error_reply(404, "Endpoint not found", "invalid_request_error")
        endpoint["state"] = {"PENDING": "STARTING", "STARTING": "STARTED"}.get(endpoint["state"], endpoint["state"])
        return Reply(body=endpoint)

    def _update_endpoint(self, request: Recorded, match: Any) -> Reply:
        endpoint = self.endpoints.get(match["id"])
        if endpoint is None:
            return error_reply(404, "Endpoint not found", "invalid_request_error")
        wanted = (request.json or {}).get("state")
        endpoint["state"] = "PENDING" if wanted == "STARTED" and endpoint["state"] == "STOPPED" else wanted or endpoint["state"]
        return Reply(body=endpoint)

    def _estimate(self, request: Recorded, match: Any) -> Reply:
        body = request.json or {}
        train, validation = self.files.get(body.get("training_file")), self.files.get(body.get("validation_file"))
        if train is None:
            return error_reply(400, "training_file is required", "invalid_request_error")
        # The fake counts a token per 4 bytes of the uploaded file.
        train_tokens = train["bytes"] // 4 * int(body.get("n_epochs") or 1)
        eval_tokens = (validation["bytes"] // 4 if validation else 0) * int(body.get("n_evals") or 0)
        return Reply(body={"estimated_total_price": round((train_tokens + eval_tokens) * PRICE_PER_TOKEN, 6),
                           "allowed_to_proceed": self.allowed_to_proceed, "user_limit": 100.0,
                           "estimated_train_token_count": train_tokens, "estimated_eval_token_count": eval_tokens})

    def _upload(self, request: Recorded, match: Any) -> Reply:
        form = request.form or {}
        if form.get("purpose") != "fine-tune" or not form.get("file_name") or not isinstance(form.get("file"), bytes):
            return error_reply(400, "purpose, file_name and file are required", "invalid_request_error")
        file_id = f"file-{next(self._ids):04d}"
        self.files[file_id] = {"id": file_id, "object": "file", "created_at": int(time.time()), "filename": form["file_name"],
                               "bytes": len(form["file"]), "purpose": "fine-tune", "FileType": "jsonl", "Processed": True}
        return Reply(body=self.files[file_id])

    def _create(self, request: Recorded, match: Any) -> Reply:
        body = request.json or {}
        if body.get("training_file") not in self.files or not body.get("model"):
            return error_reply(400, "training_file and model are required", "invalid_request_error")
        job_id = f"ft-{next(self._ids):04d}"
        now = _iso()
        job = {
            "id": job_id, "status": "pending", "created_at": now, "updated_at": now, "model": body["model"],
            "training_file": body["training_file"], "validation_file": body.get("validation_file"),
            "n_epochs": body.get("n_epochs"), "training_type": body.get("training_type"), "suffix": body.get("suffix"),
        }
        # Fields the job does not have are left out, as the API does (the spec allows no nulls there).
        self.jobs[job_id] = {key: value for key, value in job.items() if value is not None}
        self.events[job_id], self.metrics[job_id], self._step[job_id] = [], [], 0
        self._event(job_id, "job_pending", "Fine tune request created")
        return Reply(body=self.jobs[job_id])

    def _retrieve(self, request: Recorded, match: Any) -> Reply:
        job = self.jobs.get(match["id"])
        if job is None:
            return error_reply(404, "Fine-tune ID not found", "invalid_request_error")
        self._tick(job)
        return Reply(body=job)

    def _metrics(self, request: Recorded, match: Any) -> Reply:
        since = int((request.json or {}).get("global_step_from") or 0)
        return Reply(body={"metrics": [m for m in self.metrics.get(match["id"], []) if m["train/global_step"] >= since]})

    def _cancel(self, request: Recorded, match: Any) -> Reply:
        job = self.jobs.get(match["id"])
        if job is None:
            return error_reply(404, "Fine-tune ID not found", "invalid_request_error")
        job["status"] = "cancel_requested"
        self._event(job["id"], "cancel_requested", "Cancel requested")
        return Reply(body=job)

    def _download(self, request: Recorded, match: Any) -> Reply:
        job = self.jobs.get((request.query.get("ft_id") or [""])[0])
        if job is None or job["status"] != "completed" or (request.query.get("checkpoint") or [""])[0] != "adapter":
            return error_reply(400, "Invalid request parameters.", "invalid_request_error")
        name = f"{job['id']}-adapter.{self.archive}"
        self.storage.objects[name] = self.adapter_archive if self.adapter_archive is not None else self._adapter_bytes(job["id"])
        return Reply(302, raw=b"", headers={"location": f"{self.storage.root_url}/presigned/{name}?X-Amz-Signature=sig"})

    def _adapter_bytes(self, job_id: str) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz" if self.archive == "tar.gz" else "w") as bundle:
            for name, data in ADAPTER_FILES.items():
                info = tarfile.TarInfo(f"{job_id}-adapter/{name}")
                info.size = len(data)
                bundle.addfile(info, io.BytesIO(data))
        raw = buffer.getvalue()
        if self.archive == "tar.zst":
            raw = subprocess.run(["zstd", "-c"], input=raw, capture_output=True, check=True).stdout
        return raw

    def _tick(self, job: dict[str, Any]) -> None:
        job_id, state = job["id"], job["status"]
        following = {"pending": "queued", "queued": "running", "compressing": "uploading", "uploading": "completed", "cancel_requested": "cancelled"}
        if state == "running":
            if self.outcome == "error" and self._step[job_id] == 2:
                job["status"] = "error"
                self._event(job_id, "job_error", "Training failed: CUDA out of memory at step 2", level="error")
                return
            if self.outcome == "user_error":
                job["status"] = "user_error"
                self._event(job_id, "job_user_error", "Invalid training file: line 3 has no 'messages' field", level="error")
                return
            if self._step[job_id] < self.steps:
                self._train_step(job_id)
                return
            self._event(job_id, "checkpoint_save", f"Checkpoint saved at step {self.steps}", checkpoint_path=f"s3://ckpt/{job_id}/{self.steps}")
            job["status"] = "compressing"
        elif state in following:
            job["status"] = following[state]
            if job["status"] == "running":
                self._event(job_id, "training_start", "Training started")
            if job["status"] == "completed":
                job["model_output_name"] = f"tuneui-user/{job['model'].split('/')[-1]}-{job.get('suffix') or 'ft'}-{job_id}"
                self._event(job_id, "job_complete", "Job finished")
        job["updated_at"] = _iso()

    def _train_step(self, job_id: str) -> None:
        self._step[job_id] += 1
        step = self._step[job_id]
        stamp = time.time_ns()
        self.metrics[job_id].append({"timestamp": stamp, "train/global_step": step, "train/epoch": step / self.steps, "train/loss": round(2.0 / step, 4)})
        if step % 2 == 0:
            self.metrics[job_id].append({"timestamp": stamp + 1, "train/global_step": step, "eval/loss": round(2.3 / step, 4)})
        self._event(job_id, "epoch_complete" if step == self.steps else "training_start", f"Step {step} done")

    def _event(self, job_id: str, kind: str, message: str, level: str = "info", checkpoint_path: str = "") -> None:
        self.events[job_id].append({
            "object": "fine-tune-event", "created_at": _iso(), "message": message,
            "type": kind.upper() if self.event_case == "upper" else kind, "level": level,
            "param_count": 0, "token_count": 0, "total_steps": self.steps, "wandb_url": "", "step": self._step[job_id],
            "checkpoint_path": checkpoint_path, "model_path": "", "training_offset": 0, "hash": f"h{next(self._ids):05d}",
        })

    def _chat(self, request: Recorded, match: Any) -> Reply:
        body = request.json or {}
        tuned = {j["model_output_name"] for j in self.jobs.values() if j.get("model_output_name")}
        if body.get("model") in tuned and not self.serverless_lora:
            message = f"Unable to access non-serverless model {body.get('model')}. Please visit https://api.together.ai/models to create and start a new dedicated endpoint for the model."
            return error_reply(400, message, "invalid_request_error", "model_not_available")
        started = {e["name"] for e in self.endpoints.values() if e["state"] == "STARTED"}
        if body.get("model") not in {m["id"] for m in self.models} | tuned | started:
            return error_reply(404, f"Unable to access model {body.get('model')}", "invalid_request_error", "model_not_available")
        users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
        reply = str(users[-1].get("content", "")) if self.echo and users else self.chat_reply
        if body.get("stream"):
            chunks = [{"choices": [{"index": 0, "delta": {"content": w + " "}}]} for w in reply.split(" ")]
            raw = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            return Reply(raw=raw.encode(), content_type="text/event-stream")
        return Reply(body={"id": "c-1", "object": "chat.completion", "created": int(time.time()), "model": body["model"], "prompt": [],
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}]})


def _iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}Z"
