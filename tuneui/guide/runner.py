"""Carrying out the guide's actions: each step runs as its headless command in a child process.

The step commands' `--json` output is the contract between the steps and the UI, and running them
as children keeps the ML stack (and any crash in it) out of the UI process. Callers run these in
threads; `cancel` is a plain event so a quitting UI can stop waiting.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Mapping, Sequence

from tuneui.core.children import module_command, tied_environment, track, untrack
from tuneui.core.workspace import Workspace
from tuneui.steps import step_table
from tuneui.guide.progress import PREFIX as PROGRESS_PREFIX
from tuneui.guide.state import observe
from tuneui.steps.step import StepResult
from tuneui.viewmodels.cards import compare_sentence, rules_sentence

STEP_TIMEOUT_S = 3600.0


@dataclass
class StepRunner:
    """Runs `python -m tuneui --project WS <step> ... --json` and reads its JSON."""

    workspace: Workspace
    train_steps: int | None = None
    python: str = sys.executable
    cancel: threading.Event = field(default_factory=threading.Event)
    # Called from the reading thread with each `progress: ` line a step prints on stderr.
    on_progress: Callable[[str], None] | None = None

    def import_file(self, path: str) -> StepResult:
        source = Path(path).expanduser()
        if not source.is_absolute():
            source = (Path.cwd() / source).resolve()
        result = self.run_command(["data", "import", str(source)], expect_json=False)
        if not result.ok:
            return result
        output = str(result.data.get("output", "")).strip()
        return StepResult(True, {"file": str(source)}, summary=output.splitlines()[0] if output else f"Imported {source.name}.")

    def check(self) -> StepResult:
        imported = self.workspace.imported_files()
        target = self.workspace.data_dir / imported[0] if imported else self.workspace.train_file
        result = self.run_command(["data", "check", str(target)], accept_codes=(0, 1))
        if not result.ok:
            return result
        errors, warnings = len(result.data.get("errors") or []), len(result.data.get("warnings") or [])
        found = f"{errors} errors, {warnings} warnings" + (", each with its line" if errors or warnings else "")
        return StepResult(True, result.data, summary=f"Checked {target.name}: {found}.")

    def split(self) -> StepResult:
        result = self.run_command(["data", "split"], expect_json=False)
        if not result.ok:
            return result
        state = observe(self.workspace)
        return StepResult(
            True,
            {"train": state.train_examples, "val": state.val_examples},
            summary=f"Split: {state.train_examples} to train on, {state.val_examples} held out to score on.",
        )

    def baseline(self, *options: str) -> StepResult:
        """`options` are those of `tuneui baseline` (`--backend local --model X --shots 0`)."""
        result = self.run_command(["baseline", *options])
        if result.ok:
            summary = " ".join(filter(None, ["Baseline saved: this is the score the tuned model must beat.", rules_sentence("baseline", result.data),
                                             compare_sentence(self.workspace)]))  # fmt: skip
            return StepResult(True, result.data, summary=summary)
        return result

    def cost(self) -> StepResult:
        """Every configured backend side by side; `tuneui estimate` saves it to reports/cost.json."""
        result = self.run_command(["estimate", str(self.workspace.train_file)])
        if not result.ok:
            return result
        # The command saved the comparison (tuneui.steps.cost); the card shows what it saved.
        report = {"rows": list(result.data.get("estimates") or [])}
        return StepResult(True, report, summary="Costs before anything starts (hosted dollars use the dated price table).")

    def train(self) -> StepResult:
        # No --backend: `tuneui train` picks local when [models] local is set, else the hosted default.
        args = ["train"] + (["--steps", str(self.train_steps)] if self.train_steps else [])
        result = self.run_command(args)
        if result.ok:
            return StepResult(True, result.data, summary=f"Run {result.data.get('run_id')} started on the {result.data.get('backend', '')} backend.")
        return result

    def evaluate(self, run_id: str, *options: str, judge: bool = True) -> StepResult:
        result = self.run_command(["eval", run_id, *options, *(() if judge else ("--no-judge",))])
        if result.ok:
            verdict = str(result.data.get("verdict") or "Evaluation done.")
            rules = rules_sentence("eval", result.data)
            summary = f"{verdict.rstrip('.')}. {rules}" if rules else verdict
            compared = compare_sentence(self.workspace)  # two or more base models scored: which to carry on with
            return StepResult(True, result.data, summary=f"{summary} {compared}" if compared else summary)
        return result

    def report(self, run_id: str) -> StepResult:
        result = self.run_command(["report", run_id], expect_json=False)
        if not result.ok:
            return result
        written = [line.removeprefix("Wrote ").strip() for line in str(result.data.get("output", "")).splitlines() if line.startswith("Wrote ")]
        return StepResult(True, {"files": written}, summary="Report written: " + ", ".join(written) + ".")

    def prepare(self) -> StepResult:
        """The embedded model, prepared once in the user's cache (its conversion runs in a child)."""
        from tuneui.core.backend import BackendError
        from backends.local.models import ensure_embedded_model

        try:
            folder, source = ensure_embedded_model(lambda said: self.on_progress and self.on_progress(PROGRESS_PREFIX + said))
        except BackendError as exc:
            return StepResult(False, title=exc.title, hint=exc.hint)
        return StepResult(True, {"folder": str(folder)}, summary=f"Embedded model ready, from {source}.")

    def ask(self, question: str, context: str) -> StepResult:
        """A free-text question to the `[models] assistant` model, with the project state as context."""
        from tuneui.core.backend import BackendError, ModelRef
        from tuneui.core.providers import get_backend

        spec = self.workspace.settings().models.assistant
        backend_name, _, model = spec.partition(":")
        if not model:
            return StepResult(False, title=f"[models] assistant = {spec!r} is not 'backend:model'", hint="For example \"openai:gpt-4o-mini\".")
        conversation = [{"role": "system", "content": context}, {"role": "user", "content": question}]
        try:
            backend = get_backend(backend_name, self.workspace)
            answer = backend.generate(ModelRef(backend=backend_name, base_model=model), [conversation])[0]
        except BackendError as exc:
            return StepResult(False, title=exc.title, hint=exc.hint)
        return StepResult(True, {"answer": answer})

    def run_command(
        self, args: Sequence[str], *, expect_json: bool = True, accept_codes: tuple[int, ...] = (0,)
    ) -> StepResult:
        command = module_command("tuneui", "--project", str(self.workspace.root), *args, python=self.python)
        if expect_json:
            command.append("--json")
        try:
            process = track(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=tied_environment()))
        except OSError as exc:
            return StepResult(False, title=f"Could not start `tuneui {args[0]}`: {exc.strerror}")
        try:
            stdout, stderr = self._wait(process)
        finally:
            untrack(process)
        if self.cancel.is_set():
            return StepResult(False, title=f"`tuneui {args[0]}` cancelled", hint="Nothing it finished is lost: saved answers are reused next time.")
        if process.returncode not in accept_codes:
            return _failure(args, process.returncode, stderr)
        if not expect_json:
            return StepResult(True, {"output": stdout})
        try:
            data = json.loads(stdout)
        except json.JSONDecodeError:
            return StepResult(False, title=f"`tuneui {' '.join(args[:2])}` printed no JSON", hint=_last_line(stderr))
        return StepResult(True, data if isinstance(data, dict) else {"value": data})

    def _wait(self, process: subprocess.Popen[str]) -> tuple[str, str]:
        """Both pipes read in threads as the child writes (a full pipe would stall it), stderr line
        by line so progress reaches the screen while the step runs; cancel stops the child."""
        out: list[str] = []
        err: list[str] = []
        readers = [
            threading.Thread(target=_read_all, args=(process.stdout, out, None), daemon=True),
            threading.Thread(target=_read_all, args=(process.stderr, err, self.on_progress), daemon=True),
        ]
        for reader in readers:
            reader.start()
        waited = 0.0
        while process.poll() is None:
            try:
                process.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                waited += 0.25
                if self.cancel.is_set() or waited > STEP_TIMEOUT_S:
                    process.terminate()
                    try:
                        process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
        for reader in readers:
            reader.join(timeout=5)
        return "".join(out), "".join(err)


def _read_all(stream: IO[str] | None, into: list[str], on_progress: Callable[[str], None] | None) -> None:
    if stream is None:
        return
    for line in stream:
        into.append(line)
        if on_progress is not None and line.startswith(PROGRESS_PREFIX):
            on_progress(line.rstrip("\n"))
    stream.close()


def run_action(runner: StepRunner, kind: str, argument: str = "", context: str = "") -> StepResult:
    """Carry out one guide action: the step whose row names `kind` runs it (`tuneui.steps.step.Step.run`);
    used by the app and the demo."""
    if kind == "ask":
        return runner.ask(argument, context)
    if kind == "import":
        return runner.import_file(argument)
    if kind == "report":
        return runner.report(argument)
    if kind == "prepare":
        return runner.prepare()
    if kind == "split":
        return runner.split()
    row = step_table.by_action(kind)
    if row is None:
        return StepResult(False, title=f"Nothing carries out {kind!r}")
    return step_table.behaviour(row).run(runner, argument)


def _failure(args: Sequence[str], code: int | None, stderr: str) -> StepResult:
    title, hint = "", ""
    for line in stderr.splitlines():
        stripped = line.strip()
        if stripped.startswith("error:") and not title:
            title = stripped[len("error:"):].strip()
        elif stripped.startswith("hint:") and not hint:
            hint = stripped[len("hint:"):].strip()
    if not title:
        title = f"`tuneui {args[0]}` stopped (exit {code})"
        hint = hint or _last_line(stderr)
    return StepResult(False, title=title, hint=hint)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
