"""A stateful fake of Fireworks AI's REST API on 127.0.0.1, refusing what Fireworks refuses.

Shapes from the official SDK's types, `fireworks-ai` 1.2.3 (fw-ai-external/python-sdk, generated
from Fireworks' "Gateway REST API" OpenAPI description): `DatasetCreateParams` / `DatasetParam`,
`SupervisedFineTuningJobCreateParams`, `SupervisedFineTuningJob` (its `state` words and `status`),
`Model` (`state`, `kind`) and `ModelGetDownloadEndpointResponse`. A request field those types do
not name is refused with 400, as Fireworks' gateway refuses unknown JSON fields; so are a missing
`datasetId` / `dataset`, an id that is no resource id, a job on a dataset that is not READY, and a
second dataset or job of the same id (409 ALREADY_EXISTS). Control-plane errors are shaped like
gRPC-gateway's ({"code", "message", "details"}), inference errors like OpenAI's.

The job's metrics file and the trained model's files are served by a second server standing in for
the signed-URL storage host, which refuses any request carrying an Authorization header.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from tests.hosted.fake_http import FakeServer, Recorded, Reply

ACCOUNT = "tuneui-test"
RESOURCE_ID = re.compile(r"[a-z][a-z0-9-]{0,62}")
BASE_MODELS = {"accounts/fireworks/models/llama-v3p1-8b-instruct", "accounts/fireworks/models/qwen2p5-7b-instruct"}
ADAPTER_FILES = {"adapter_config.json": b'{"base_model_name_or_path": "meta-llama/Llama-3.1-8B-Instruct", "r": 16}', "adapter_model.safetensors": b"\x00" * 4096}
# The SDK 1.2.3's request fields (camelCase, as sent).
DATASET_CREATE_FIELDS = {"datasetId", "dataset", "filter", "sourceDatasetId"}
DATASET_FIELDS = {"displayName", "evalProtocol", "evaluationResult", "exampleCount", "externalUrl", "format", "sourceJobName", "splitted", "transformed", "userUploaded"}
JOB_CREATE_FIELDS = {
    "dataset", "awsS3Config", "azureBlobStorageConfig", "baseModel", "batchSize", "batchSizeSamples", "displayName", "earlyStop",
    "epochs", "evalAutoCarveout", "evaluationDataset", "gradientAccumulationSteps", "isTurbo", "jinjaTemplate", "learningRate",
    "learningRateWarmupSteps", "loraRank", "maxContextLength", "metricsFileSignedUrl", "mtpEnabled", "mtpFreezeBaseModel",
    "mtpNumDraftTokens", "nodes", "optimizerWeightDecay", "outputModel", "region", "usePurpose", "wandbConfig", "warmStartFrom",
}  # fmt: skip
JOB_STATES = {"JOB_STATE_UNSPECIFIED", "JOB_STATE_CREATING", "JOB_STATE_RUNNING", "JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
              "JOB_STATE_DELETING", "JOB_STATE_WRITING_RESULTS", "JOB_STATE_VALIDATING", "JOB_STATE_DELETING_CLEANING_UP", "JOB_STATE_PENDING",
              "JOB_STATE_EXPIRED", "JOB_STATE_RE_QUEUEING", "JOB_STATE_CREATING_INPUT_DATASET", "JOB_STATE_IDLE", "JOB_STATE_CANCELLING",
              "JOB_STATE_EARLY_STOPPED", "JOB_STATE_PAUSED"}  # fmt: skip


def grpc_error(status: int, code: int, message: str) -> Reply:
    return Reply(status, {"code": code, "message": message, "details": []})


class Storage(FakeServer):
    """The signed-URL host: no key accepted, the signature is the credential."""

    requires_key = False

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, bytes] = {}
        self.route("GET", r"/signed/(?P<name>.+)", self._get)

    def _get(self, request: Recorded, match: Any) -> Reply:
        if "authorization" in request.headers or (request.query.get("sig") or [""])[0] != "ok" or match["name"] not in self.objects:
            return Reply(403, raw=b"<Error><Code>AccessDenied</Code></Error>", content_type="application/xml")
        return Reply(raw=self.objects[match["name"]], content_type="application/octet-stream")


class FakeFireworks(FakeServer):
    def __init__(self, steps: int = 4, outcome: str = "completed", serves_tuned: bool = True) -> None:
        super().__init__()
        self.steps, self.outcome, self.serves_tuned = steps, outcome, serves_tuned
        self.failure_reason = "Dataset line 3: 'messages' must end with an assistant turn"
        self.chat_reply = "Hello from the Fireworks LoRA"
        self.storage = Storage()
        self.datasets: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self.metric_rows: dict[str, list[dict[str, Any]]] = {}
        acct = rf"/v1/accounts/{ACCOUNT}"
        self.route("POST", acct + "/datasets", self._create_dataset)
        self.route("POST", acct + r"/datasets/(?P<id>[^/:]+):upload", self._upload)
        self.route("GET", acct + r"/datasets/(?P<id>[^/:]+)", self._get_dataset)
        self.route("POST", acct + "/supervisedFineTuningJobs", self._create_job)
        self.route("GET", acct + r"/supervisedFineTuningJobs/(?P<id>[^/:]+)", self._get_job)
        self.route("POST", acct + r"/supervisedFineTuningJobs/(?P<id>[^/:]+):cancel", self._cancel)
        self.route("GET", r"/v1/accounts/fireworks/models/(?P<id>[^/:]+)", self._base_model)
        self.route("GET", acct + r"/models/(?P<id>[^/:]+)", self._get_model)
        self.route("GET", acct + r"/models/(?P<id>[^/:]+):getDownloadEndpoint", self._download_endpoint)
        self.route("POST", "/inference/v1/chat/completions", self._chat)

    def start(self) -> "FakeFireworks":
        self.storage.start()
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        self.storage.stop()

    # -- datasets -----------------------------------------------------------------------------

    def _create_dataset(self, request: Recorded, match: Any) -> Reply:
        body = request.json if isinstance(request.json, dict) else {}
        refused = _unknown(body, DATASET_CREATE_FIELDS) or _unknown(body.get("dataset") or {}, DATASET_FIELDS)
        if refused or "datasetId" not in body or not isinstance(body.get("dataset"), dict):
            return grpc_error(400, 3, refused or "datasetId and dataset are required")
        dataset_id, dataset = body["datasetId"], body["dataset"]
        if not RESOURCE_ID.fullmatch(str(dataset_id)) or dataset.get("format", "CHAT") not in ("FORMAT_UNSPECIFIED", "CHAT", "COMPLETION", "RL"):
            return grpc_error(400, 3, f"invalid dataset id or format: {dataset_id!r}")
        if not str(dataset.get("exampleCount", "0")).isdigit():
            return grpc_error(400, 3, "exampleCount must be an int64 (a string of digits)")
        if dataset_id in self.datasets:
            return grpc_error(409, 6, f"dataset accounts/{ACCOUNT}/datasets/{dataset_id} already exists")
        self.datasets[dataset_id] = {"name": f"accounts/{ACCOUNT}/datasets/{dataset_id}", "state": "UPLOADING", "format": dataset.get("format", "CHAT"),
                                     "exampleCount": str(dataset.get("exampleCount", "0")), "createTime": _iso(), "userUploaded": {}}  # fmt: skip
        return Reply(body=self.datasets[dataset_id])

    def _upload(self, request: Recorded, match: Any) -> Reply:
        dataset = self.datasets.get(match["id"])
        if dataset is None:
            return grpc_error(404, 5, f"dataset {match['id']} not found")
        if not request.form or set(request.form) != {"file"} or not isinstance(request.form["file"], bytes):
            return grpc_error(400, 3, "exactly one multipart field, 'file' (a file), is expected")
        dataset["state"] = "READY"
        # DatasetUploadResponse: OpenAI's file object shape, as the SDK's type has it.
        return Reply(body={"id": match["id"], "object": "file", "bytes": len(request.form["file"]), "created_at": int(time.time()),
                           "filename": "train.jsonl", "purpose": "fine-tune"})

    def _get_dataset(self, request: Recorded, match: Any) -> Reply:
        dataset = self.datasets.get(match["id"])
        return Reply(body=dataset) if dataset else grpc_error(404, 5, f"dataset {match['id']} not found")

    # -- jobs ---------------------------------------------------------------------------------

    def _create_job(self, request: Recorded, match: Any) -> Reply:
        body = request.json if isinstance(request.json, dict) else {}
        job_id = (request.query.get("supervisedFineTuningJobId") or [""])[0]
        refused = _unknown(body, JOB_CREATE_FIELDS)
        if refused or "dataset" not in body or not RESOURCE_ID.fullmatch(job_id):
            return grpc_error(400, 3, refused or "dataset and a valid supervisedFineTuningJobId are required")
        for key in ("dataset", "evaluationDataset"):
            if key in body:
                found = self.datasets.get(str(body[key]).rsplit("/", 1)[-1])
                if found is None or found["state"] != "READY" or found["name"] != body[key]:
                    return grpc_error(400, 9, f"{key} {body[key]} is not a READY dataset of this account")
        if body.get("baseModel") not in BASE_MODELS:
            return grpc_error(400, 3, f"base model {body.get('baseModel')} cannot be fine-tuned")
        if job_id in self.jobs:
            return grpc_error(409, 6, f"supervisedFineTuningJob {job_id} already exists")
        output = body.get("outputModel") or job_id
        self.jobs[job_id] = {**{k: v for k, v in body.items()}, "name": f"accounts/{ACCOUNT}/supervisedFineTuningJobs/{job_id}",
                             "state": "JOB_STATE_CREATING", "createTime": _iso(), "updateTime": _iso(), "status": {"code": "OK", "message": ""},
                             "outputModel": f"accounts/{ACCOUNT}/models/{output}", "createdBy": "user@example.com"}  # fmt: skip
        self.metric_rows[job_id] = []
        return Reply(body=self._shown(job_id))

    def _get_job(self, request: Recorded, match: Any) -> Reply:
        if match["id"] not in self.jobs:
            return grpc_error(404, 5, f"supervisedFineTuningJob {match['id']} not found")
        self._tick(match["id"])
        return Reply(body=self._shown(match["id"]))

    def _cancel(self, request: Recorded, match: Any) -> Reply:
        job = self.jobs.get(match["id"])
        if job is None:
            return grpc_error(404, 5, f"supervisedFineTuningJob {match['id']} not found")
        if job["state"] in ("JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"):
            return grpc_error(400, 9, f"job is already {job['state']}")
        job["state"] = "JOB_STATE_CANCELLING"
        return Reply(body={})

    def _shown(self, job_id: str) -> dict[str, Any]:
        job = dict(self.jobs[job_id])
        assert job["state"] in JOB_STATES
        if self.metric_rows[job_id]:
            name = f"{job_id}-metrics.jsonl"
            self.storage.objects[name] = "".join(json.dumps(row) + "\n" for row in self.metric_rows[job_id]).encode()
            job["metricsFileSignedUrl"] = f"{self.storage.root_url}/signed/{name}?sig=ok"
        return job

    def _tick(self, job_id: str) -> None:
        job = self.jobs[job_id]
        state, step = job["state"], len({row["step"] for row in self.metric_rows[job_id]})
        if state == "JOB_STATE_CREATING":
            job["state"] = "JOB_STATE_PENDING"
        elif state == "JOB_STATE_PENDING":
            job["state"] = "JOB_STATE_RUNNING"
        elif state == "JOB_STATE_RUNNING" and self.outcome == "failed" and step == 2:
            job.update(state="JOB_STATE_FAILED", status={"code": "INVALID_ARGUMENT", "message": self.failure_reason})
        elif state == "JOB_STATE_RUNNING" and step < self.steps:
            rows = self.metric_rows[job_id]
            rows.append({"step": step + 1, "epoch": (step + 1) / self.steps, "train_loss": round(2.0 / (step + 1), 4)})
            if (step + 1) % 2 == 0:
                rows.append({"step": step + 1, "eval_loss": round(2.3 / (step + 1), 4)})
        elif state == "JOB_STATE_RUNNING":
            job["state"] = "JOB_STATE_WRITING_RESULTS"
        elif state == "JOB_STATE_WRITING_RESULTS":
            job.update(state="JOB_STATE_COMPLETED", completedTime=_iso())
            model_id = job["outputModel"].rsplit("/", 1)[-1]
            self.models[model_id] = {"name": job["outputModel"], "kind": "HF_PEFT_ADDON", "state": "UPLOADING", "baseModelDetails": {},
                                     "createTime": _iso(), "status": {"code": "OK", "message": ""}}  # fmt: skip
        elif state == "JOB_STATE_CANCELLING":
            job["state"] = "JOB_STATE_CANCELLED"
        job["updateTime"] = _iso()

    # -- models and inference -----------------------------------------------------------------

    def _base_model(self, request: Recorded, match: Any) -> Reply:
        name = f"accounts/fireworks/models/{match['id']}"
        return Reply(body={"name": name, "kind": "HF_BASE_MODEL", "state": "READY"}) if name in BASE_MODELS else grpc_error(404, 5, f"model {name} not found")

    def _get_model(self, request: Recorded, match: Any) -> Reply:
        model = self.models.get(match["id"])
        if model is None:
            return grpc_error(404, 5, f"model {match['id']} not found")
        shown = dict(model)
        model["state"] = "READY"  # written by the next look
        return Reply(body=shown)

    def _download_endpoint(self, request: Recorded, match: Any) -> Reply:
        model = self.models.get(match["id"])
        if model is None or model["state"] != "READY":
            return grpc_error(400 if model else 404, 9 if model else 5, f"model {match['id']} is not READY")
        urls = {}
        for name, data in ADAPTER_FILES.items():
            self.storage.objects[f"{match['id']}/{name}"] = data
            urls[name] = f"{self.storage.root_url}/signed/{match['id']}/{name}?sig=ok"
        return Reply(body={"filenameToSignedUrls": urls})

    def _chat(self, request: Recorded, match: Any) -> Reply:
        body = request.json if isinstance(request.json, dict) else {}
        tuned = {model["name"] for model in self.models.values()}
        if body.get("model") not in BASE_MODELS | (tuned if self.serves_tuned else set()):
            return Reply(404, {"error": {"object": "error", "type": "invalid_request_error", "code": "NOT_FOUND",
                                         "message": "Model not found, inaccessible, and/or not deployed"}})  # fmt: skip
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return Reply(400, {"error": {"object": "error", "type": "invalid_request_error", "message": "messages is required"}})
        return Reply(body={"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": self.chat_reply}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}})  # fmt: skip


def _unknown(body: dict[str, Any], allowed: set[str]) -> str:
    extra = sorted(set(body) - allowed)
    return f'Invalid JSON payload received. Unknown name "{extra[0]}": Cannot find field.' if extra else ""


def _iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
