"""A model's config.json, wherever it is: a local folder, the Hugging Face cache, or the hub.

The Cost step and the local backend size a run from it (layers, hidden size, vocabulary) without
loading the model.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tuneui.errors import TuneError


def find_model_config(model: str, project: Path | None = None) -> dict[str, Any]:
    """config.json of a local folder, the Hugging Face cache, or (when online) the hub.

    Raises TuneError naming what was tried when none has it: offline, that is the normal answer.
    """
    folders = (Path(model).expanduser(), *((project / model,) if project else ()))
    for folder in folders:
        if (folder / "config.json").is_file():
            return _read_config(folder / "config.json")
    hub = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", "~/.cache/huggingface")) / "hub")
    snapshots = hub.expanduser() / f"models--{model.replace('/', '--')}" / "snapshots"
    if snapshots.is_dir():
        for snapshot in sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
            if (snapshot / "config.json").is_file():
                return _read_config(snapshot / "config.json")
    for folder in folders:
        if folder.is_dir():
            raise TuneError(
                f"No config.json in {folder}: the folder is not a model",
                "Pass --model with the folder that holds the model's config.json and weights.",
            )
    downloaded = _download_config(model)
    if downloaded is not None:
        return _read_config(downloaded)
    raise TuneError(
        f"No config.json for model {model!r}: not a folder, not in the Hugging Face cache, and the hub is not reachable",
        f"Download it (`huggingface-cli download {model} config.json`) or pass --model with a local model folder.",
    )


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TuneError(f"{path} is not readable JSON: {exc}", "Download the model's config.json again.") from None
    if not isinstance(data, dict):
        raise TuneError(f"{path} is not a JSON object", "Download the model's config.json again.")
    return data


def _download_config(model: str) -> Path | None:
    # Only a hub id can be downloaded, only when the user has not switched the hub off, and only
    # after a quick reachability check: the hub client otherwise retries for half a minute.
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") or model.count("/") != 1:
        return None
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((endpoint.hostname or "huggingface.co", endpoint.port or 443), timeout=3).close()
    except OSError:
        return None
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(model, "config.json", etag_timeout=5))
    except Exception:  # not installed, private or missing repo, gated model: all mean "no config here"
        return None
