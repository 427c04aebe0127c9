"""Starting and watching the detached training worker: its command line, its process, its pid.

Pure standard library: this runs in the UI process.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Mapping, Sequence

from backends.runs import RunFolder
from tuneui.core.files import atomic_write_text
from tuneui.core.secrets import key_names

WORKER_MODULE = "backends.local.worker"
# The worker's inherited lock descriptors: its run's worker.lock, and the device locks.
WORKER_LOCK_ENV = "TUNEUI_WORKER_LOCK_FD"
DEVICE_LOCKS_ENV = "TUNEUI_DEVICE_LOCK_FDS"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def launch_command(
    run_dir: str | os.PathLike[str], gpu_count: int, python: str = sys.executable, cpu_processes: int = 1
) -> list[str]:
    """The worker's command line: plain python on one device, `accelerate launch` (DDP) on several.

    Several GPUs: one process per GPU (NCCL). No GPU and `cpu_processes` > 1: that many CPU
    processes (gloo), one thread each. accelerate's `--cpu` starts a single process unless mpirun
    spreads it, so both go through its torchrun launcher (`--multi_gpu`, a misleading name); on a
    CPU the trainer's `use_cpu` makes each process pick gloo.
    """
    processes = gpu_count if gpu_count > 1 else (cpu_processes if gpu_count == 0 else 1)
    if processes <= 1:
        return [python, "-m", WORKER_MODULE, str(run_dir)]
    precision = ["--mixed_precision", "bf16"] if gpu_count > 1 else ["--mixed_precision", "no", "--num_cpu_threads_per_process", "1"]
    return [
        python, "-m", "accelerate.commands.launch",
        "--multi_gpu", "--num_processes", str(processes), "--num_machines", "1", *precision,
        "--dynamo_backend", "no", "--main_process_port", str(free_port()),
        "-m", WORKER_MODULE, str(run_dir),
    ]  # fmt: skip


def free_port() -> int:
    """A port for the processes' rendezvous: two runs on one machine must not share accelerate's 29500."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def visible_gpu_count(env: Mapping[str, str] | None = None) -> int:
    """GPUs the worker will see, asked of nvidia-smi (not torch: this process must not import it)."""
    env = os.environ if env is None else env
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))


def child_environment(base: Mapping[str, str]) -> dict[str, str]:
    """The environment of a local ML child process: this project importable, and no API keys.

    Local training and inference never call a provider, so a key has no business in a process
    whose output (tracebacks, library logs) lands in worker.log.
    """
    keys = key_names()
    env = {name: value for name, value in base.items() if name not in keys}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def spawn_worker(folder: RunFolder, command: Sequence[str], worker_lock: int, device_locks: Sequence[int] = ()) -> int:
    """Start the worker in its own session (it outlives the terminal and the UI); return its pid.

    The worker inherits the descriptors of the locks the caller holds, so the run and its devices
    stay locked from this moment until the worker exits. The pid is written before this returns,
    so a follower that starts a moment later finds it.
    """
    env = child_environment(os.environ)
    env[WORKER_LOCK_ENV] = str(worker_lock)
    env[DEVICE_LOCKS_ENV] = ",".join(str(fd) for fd in device_locks)
    with open(folder.log_path, "ab") as log:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=PROJECT_ROOT,
            env=env,
            pass_fds=(worker_lock, *device_locks),
        )
    atomic_write_text(folder.pid_path, f"{process.pid}\n")
    return process.pid


def read_pid(folder: RunFolder) -> int | None:
    try:
        return int(folder.pid_path.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return None


def worker_alive(pid: int | None) -> bool:
    """Is this pid still our worker? A zombie (exited, not yet reaped) or a reused pid is not."""
    if pid is None:
        return False
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self").exists():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        state = stat.rsplit(")", 1)[-1].split()[0]
        return state not in ("Z", "X") and (WORKER_MODULE in cmdline or "accelerate" in cmdline)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_worker(pid: int, signum: int = signal.SIGTERM) -> None:
    """Signal the worker's whole session: under `accelerate launch` the trainers are its children."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, signum)


# A line of a Python traceback's last line ("RuntimeError: ...", "torch.OutOfMemoryError: ..."):
# the one line of a worker's log that says why it died, among progress bars and metrics dicts.
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Interrupt|Exit)(?::\s.*)?$")


def stopped_worker_error(folder: RunFolder) -> str:
    """The recorded error of a worker that died without writing one (SIGKILL, the OOM killer, a
    crash of the interpreter): a sentence, with the exception its log ends on when there is one."""
    cause = ""
    for line in reversed(log_tail(folder, 200).splitlines()):
        if _EXCEPTION_LINE.match(line.strip()):
            cause = line.strip()[:300]
            break
    reason = f"its last error was {cause}" if cause else "it was killed (by a signal, or the system ran out of memory) before it could say why"
    return f"The training worker stopped without finishing: {reason}. Its log is {folder.log_path}."


def log_tail(folder: RunFolder, lines: int = 20) -> str:
    try:
        text = folder.log_path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
