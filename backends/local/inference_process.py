"""The UI-side handle on the inference worker: one long-lived subprocess per backend object.

Only the standard library here: the process that imports this never imports torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict
from typing import Any, Callable, Iterator, Mapping, Sequence

from tuneui.core.backend import BackendError, Conversation, GenerationParams, ModelRef
from backends.local.launch import PROJECT_ROOT, child_environment
from tuneui.core.children import tied_environment, track, untrack


class InferenceProcess:
    """Starts `python -m backends.local.inference` on first use and keeps it for later calls.

    Requests are serialized by a lock: the UI may call from several thread workers, and the
    worker answers one request at a time.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = dict(env) if env is not None else None
        self._process: subprocess.Popen[str] | None = None
        self._stderr = None
        self._lock = threading.Lock()

    def generate(
        self,
        model: ModelRef,
        conversations: Sequence[Conversation],
        params: GenerationParams,
        on_count: Callable[[int], None] | None = None,
    ) -> tuple[list[str], list[bool | None]]:
        """Completions, and whether each ended on its own before the token cap; `on_count(n)`
        hears how many are done as the worker finishes them."""
        if not conversations:
            return [], []
        request = {
            "op": "generate",
            "model": model.to_dict(),
            "conversations": [[dict(m) for m in c] for c in conversations],
            "params": _params(params),
            "progress": on_count is not None,
        }
        with self._lock:
            self._send(request)
            reply = self._receive()
            while "progress" in reply:
                if on_count is not None:
                    on_count(int(reply["progress"]))
                reply = self._receive()
        completions = list(reply["completions"])
        ended = reply.get("ended")
        return completions, list(ended) if isinstance(ended, list) else [None] * len(completions)

    def stream(self, model: ModelRef, conversation: Conversation, params: GenerationParams) -> Iterator[str]:
        request = {
            "op": "stream",
            "model": model.to_dict(),
            "conversation": [dict(m) for m in conversation],
            "params": _params(params),
        }
        with self._lock:
            self._send(request)
            finished = False
            try:
                while True:
                    reply = self._receive()
                    if reply.get("done"):
                        finished = True
                        return
                    yield reply["chunk"]
            except BackendError:
                finished = True  # an error reply ends the exchange; a dead worker has nothing left
                raise
            finally:
                # A reader that stops early (the user closed the chat) must not leave the rest of
                # this reply in the pipe, where the next request would read it as its own.
                while not finished and self._process is not None:
                    finished = bool(self._receive().get("done"))

    def close(self) -> None:
        """Stop the worker; closing its stdin lets it finish the current request and exit."""
        process, self._process = self._process, None
        if process is None:
            return
        untrack(process)
        try:
            process.stdin.close()
            process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _ensure_started(self) -> subprocess.Popen[str]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        # stderr goes to a temp file, not a pipe: nobody reads it until something fails, and a
        # full pipe would block the worker mid-generation.
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        self._process = track(subprocess.Popen(
            [sys.executable, "-m", "backends.local.inference"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            env=tied_environment(child_environment(self._env if self._env is not None else os.environ)),
            cwd=PROJECT_ROOT,
        ))
        return self._process

    def _send(self, request: Mapping[str, Any]) -> None:
        process = self._ensure_started()
        try:
            process.stdin.write(json.dumps(request, ensure_ascii=False) + "\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None

    def _receive(self) -> dict[str, Any]:
        line = self._process.stdout.readline() if self._process else ""
        if not line:
            raise self._died()
        reply = json.loads(line)
        if "error" in reply:
            raise BackendError(reply["error"]["title"], reply["error"].get("hint", ""))
        return reply

    def _died(self) -> BackendError:
        tail = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            tail = "".join(self._stderr.readlines()[-5:]).strip()
        self.close()
        return BackendError(
            "The local inference worker stopped" + (f": {tail.splitlines()[-1]}" if tail else ""),
            "Check that torch and transformers are installed (`pip install 'tuneui[local]'`) "
            "and that the model fits in memory; the next request starts a fresh worker.",
        )


def _params(params: GenerationParams) -> dict[str, Any]:
    data = asdict(params)
    data["stop"] = list(params.stop)
    return data
