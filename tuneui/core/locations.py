"""Every folder tuneui keeps outside a project, and every environment variable of its own that it
reads, in one place (Posting's `locations` is the model). A user, a test or a child process moves
them all from here; no other module reads these variables itself.

- `TUNEUI_CACHE_DIR`: the user cache (prepared models, tiktoken encodings, device locks); default
  `$XDG_CACHE_HOME/tuneui`, else `~/.cache/tuneui`.
- `TUNEUI_LOCK_DIR`: the machine-wide device locks (default: `device-locks/` in the cache).
- `TUNEUI_POLL_SECONDS`: seconds between polls of a hosted job, over `[hosted] poll_seconds`.
- `TUNEUI_DEBUG`: a failure tuneui did not expect shows its traceback.
- `TUNEUI_REVIEWER`: the name people's votes are saved under (default: the login name).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

CACHE_DIR_ENV = "TUNEUI_CACHE_DIR"
LOCK_DIR_ENV = "TUNEUI_LOCK_DIR"
POLL_SECONDS_ENV = "TUNEUI_POLL_SECONDS"
DEBUG_ENV = "TUNEUI_DEBUG"
REVIEWER_ENV = "TUNEUI_REVIEWER"


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """The user cache shared by every project of this user."""
    env = _env(env)
    if env.get(CACHE_DIR_ENV):
        return Path(env[CACHE_DIR_ENV]).expanduser()
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "tuneui"


def models_dir(env: Mapping[str, str] | None = None) -> Path:
    """Prepared models (the embedded SmolLM2, each in its own folder)."""
    return cache_dir(env) / "models"


def tiktoken_dir(env: Mapping[str, str] | None = None) -> Path:
    return cache_dir(env) / "tiktoken"


def lock_dir(env: Mapping[str, str] | None = None) -> Path:
    """The machine-wide device locks: one local training per GPU (or the CPU)."""
    env = _env(env)
    return Path(env[LOCK_DIR_ENV]) if env.get(LOCK_DIR_ENV) else cache_dir(env) / "device-locks"


def poll_seconds_override(env: Mapping[str, str] | None = None) -> str:
    """`TUNEUI_POLL_SECONDS` as written ("" when unset); its reader checks it is a number."""
    return _env(env).get(POLL_SECONDS_ENV, "").strip()


def debugging(env: Mapping[str, str] | None = None) -> bool:
    return bool(_env(env).get(DEBUG_ENV))


def reviewer_override(env: Mapping[str, str] | None = None) -> str:
    return _env(env).get(REVIEWER_ENV, "").strip()
