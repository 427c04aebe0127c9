"""Export as a step of the guide (`tuneui.steps.step.Step`): offered once the tuned model is
evaluated, with a plain warning when the verdict says to keep the prompt; it runs `tuneui export`."""

from __future__ import annotations

import shutil
from typing import Any, Mapping

from tuneui.core.files import read_json
from tuneui.core.workspace import Workspace
from tuneui.guide.state import WorkspaceState
from tuneui.steps.step import BaseStep, Question, Start, StepResult, StepRunner
from tuneui.guide.turns import REPORT_COMMAND, STATUS_COMMAND
from tuneui.steps.export.paths import EXPORTS_DIR, RESULT_FILE, export_dir

OLLAMA_ARGUMENT = "ollama"  # `/export ollama`: create the Ollama model from the export's Modelfile
FORCE_ARGUMENT = "force"  # `/export force`: export again over an existing export
WINS = "tuned beats"  # how a verdict that favours the tuned model begins (tuneui.core.verdict)


def _row() -> Any:
    from tuneui.steps.step_table import EXPORT

    return EXPORT


class ExportStep(BaseStep):
    def facts(self, workspace: Workspace) -> tuple[str, ...]:
        folder = workspace.root / EXPORTS_DIR
        if not folder.is_dir():
            return ()
        return tuple(sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")))

    def ready(self, state: WorkspaceState) -> bool:
        return state.evaluated and state.active_run is None

    def done(self, state: WorkspaceState) -> bool:
        run = state.finished_run
        return bool(run and run.run_id in (state.fact(_row().name) or ()))

    def question(self, state: WorkspaceState, workspace: Workspace) -> Question:
        row = _row()
        run = state.finished_run
        verdict = _verdict(workspace, run.run_id) if run else ""
        from tuneui.steps.step_table import EVALUATE

        choices = (
            ("Export it", row.command),
            ("Open the verdict", EVALUATE.open_command),
            ("Write the report", REPORT_COMMAND),
            ("Not now: project status", STATUS_COMMAND),
        )
        if verdict.startswith(WINS):
            return Question(
                f"Next: {row.name}. The tuned model wins; export it for Ollama, llama.cpp, vLLM and transformers?", choices
            )
        warning = f"Careful: the verdict says {verdict.rstrip('.') or 'nothing yet'}. The best prompt did as well, so exporting the tuned model may not pay off."
        return Question(f"Next: {row.name}. Export the tuned model anyway?", choices, says=(warning,))

    def start(self, state: WorkspaceState, argument: str) -> Start:
        run = state.finished_run
        if run is None:
            return Start("There is no finished run to export yet.")
        if argument == OLLAMA_ARGUMENT:
            return Start("Creating the model in Ollama from the export's Modelfile…", action=_row().action, argument=argument)
        again = argument == FORCE_ARGUMENT
        says = f"Exporting run {run.run_id}{' again' if again else ''}: merge, GGUF, Modelfile, model card, then the checks…"
        return Start(says, action=_row().action, argument=FORCE_ARGUMENT if again else "")

    def run(self, runner: StepRunner, argument: str) -> StepResult:
        from tuneui.guide.state import observe

        run = observe(runner.workspace).finished_run
        if run is None:
            return StepResult(False, title="No finished run to export")
        if argument == OLLAMA_ARGUMENT:
            created = runner.run_command(["export", run.run_id, "--ollama-create"], expect_json=False)
            if not created.ok:
                return created
            data = read_json(export_dir(runner.workspace.root, run.run_id) / RESULT_FILE, default={})
            command = dict(data.get("commands") or {}).get("ollama", "")
            return StepResult(True, data, summary=f"Created the model in Ollama; try it with: {command.rsplit('&& ', 1)[-1]}")
        force = ["--force"] if argument == FORCE_ARGUMENT else []
        result = runner.run_command(["export", run.run_id, *force], accept_codes=(0, 1))
        if not result.ok and "already exists" in result.title:
            return StepResult(False, title=result.title, hint=f"Type {_row().command} {FORCE_ARGUMENT} to export it again over the old one.")
        if not result.ok:
            return result
        return StepResult(True, result.data, summary=_summary(result.data))

    def after(self, result: StepResult, state: WorkspaceState) -> Question:
        row = _row()
        if shutil.which("ollama") and not result.summary.startswith("Created the model in Ollama") and "Modelfile" in (result.data.get("files") or ()):
            return Question("Ollama is installed: create the model in it now?", (("Create it in Ollama", f"{row.command} {OLLAMA_ARGUMENT}"), (f"Open the {row.name} view", row.open_command)))
        return Question(f"The files, checks and commands are in the {row.name} view. Open it?", ((f"Open the {row.name} view", row.open_command), ("Project status", "/status")))

    def headless(self, runner: StepRunner) -> Mapping[str, Any] | None:
        from tuneui.guide.state import observe

        run = observe(runner.workspace).finished_run
        if run is None:
            return None
        # --force: a demo run again on its project exports its newest run again.
        result = runner.run_command(["export", run.run_id, "--force"], accept_codes=(0, 1))
        if not result.ok:
            return {"error": result.title, "hint": result.hint}
        return result.data


def _verdict(workspace: Workspace, run_id: str) -> str:
    try:
        result = read_json(workspace.run_dir(run_id) / "eval" / "result.json", default={})
    except (ValueError, OSError):
        return ""
    return str(result.get("verdict") or "") if isinstance(result, dict) else ""


def _summary(data: Mapping[str, Any]) -> str:
    checks = dict(data.get("checks") or {})
    failed = [name for name, check in checks.items() if not dict(check).get("ok")]
    passed = f"{len(checks) - len(failed)} of {len(checks)} checks passed"
    return f"Exported to {data.get('folder')}: {passed}" + (f"; failed: {', '.join(failed)}." if failed else ".")


EXPORT_STEP = ExportStep()
