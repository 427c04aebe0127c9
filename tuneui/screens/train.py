"""The Train view: live training and validation loss, pace, the overfitting warning, cancel."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState
from textual_plotext import PlotextPlot

from tuneui.core.backend import BackendError
from backends.runs import RunFolder
from tuneui.core.workspace import Workspace
from tuneui.guide.state import DAMAGED, RunSummary
from tuneui.steps.step_table import TRAIN
from tuneui.widgets.literal import literal, visible
from tuneui.viewmodels.progress import ProgressSummary, format_seconds, overfit_warning, progress_of
from tuneui.messages import WorkspaceChanged
from tuneui.screens.confirm import ConfirmModal


class TrainScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("x", "cancel_run", "Cancel run"),
        # Short labels: the footer holds them all at 80 columns.
        Binding("l", "leave_running", "Leave running"),
        Binding("[", "other_run(-1)", "Older"),
        Binding("]", "other_run(1)", "Newer"),
    ]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.run_id: str | None = None
        self._plan_of: tuple[str | None, dict | None] = (None, None)  # (run id, its plan)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="run-title", classes="view-title")
        yield PlotextPlot(id="loss-plot")
        yield Static("", id="run-stats")
        yield Static("", id="run-plan")
        yield Static("", id="run-warning")
        yield Footer()

    def on_mount(self) -> None:
        runs = self.app.workspace_state().runs
        chosen = [run for run in runs if run.active] or list(runs)
        self.run_id = chosen[-1].run_id if chosen else None
        self.redraw()

    def on_workspace_changed(self, event: WorkspaceChanged) -> None:
        self.redraw()

    def redraw(self) -> None:
        title = self.query_one("#run-title", Static)
        if self.run_id is None:
            title.update(f"No training run yet: type {TRAIN.command} in the conversation (Esc goes back).")
            return
        run = self._summary()
        if run is None or run.status == DAMAGED:
            problem = run.problem if run else "its folder is gone"
            title.update(literal(f"Run {self.run_id} · damaged: {problem}"))
            return
        progress = progress_of(self.app.watch.events(self.run_id))
        title.update(literal(f"Run {self.run_id} · {run.backend} · {run.status}" + (f" · {run.error}" if run.error else "")))
        self._plot(progress)
        self.query_one("#run-stats", Static).update(_stats_text(progress))
        plan = self._plan()
        plan_view = self.query_one("#run-plan", Static)
        plan_view.display = isinstance(plan, dict)
        plan_view.update(_plan_text(plan) if isinstance(plan, dict) else "")
        warning = self.query_one("#run-warning", Static)
        warning.update(Text(overfit_warning(progress, run.active), style="bold yellow"))

    def _plan(self) -> dict | None:
        """The plan the run follows, from its spec: read once per run, since a spec never changes."""
        if self._plan_of[0] != self.run_id:
            try:
                plan = RunFolder(self.workspace.run_dir(self.run_id)).read_spec().options.get("plan")
            except BackendError:  # a damaged spec shows no plan; the title already says what is wrong
                plan = None
            self._plan_of = (self.run_id, plan if isinstance(plan, dict) else None)
        return self._plan_of[1]

    def _plot(self, progress: ProgressSummary) -> None:
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if progress.train_points:
            plt.plot([s for s, _ in progress.train_points], [v for _, v in progress.train_points], label="train")
        if progress.valid_points:
            plt.plot([s for s, _ in progress.valid_points], [v for _, v in progress.valid_points], label="validation", marker="dot")
        plt.xlabel("step")
        plot.refresh()

    def _summary(self) -> RunSummary | None:
        return next((run for run in self.app.workspace_state().runs if run.run_id == self.run_id), None)

    def action_cancel_run(self) -> None:
        run = self._summary()
        if run is None:
            return
        if not run.active:
            self.notify(visible(f"Run {run.run_id} is {run.status}: there is nothing to cancel."), markup=False)
            return
        run_id = run.run_id

        def answered(yes: bool | None) -> None:
            if yes:
                self.notify(f"Cancelling {run_id}: the worker saves a checkpoint first.", markup=False)
                self.cancel_run(run_id)

        self.app.push_screen(ConfirmModal(f"Cancel run {run_id}? Training stops after a last checkpoint."), answered)

    @work(thread=True, group="cancel", name="cancel the run", exit_on_error=False)
    def cancel_run(self, run_id: str) -> None:
        result = self.app.runner.run_command(["cancel", run_id], expect_json=False)
        if not result.ok:
            message = visible(f"Could not cancel {run_id}: {result.title}\n{result.hint}".strip())
            self.app.call_from_thread(self.notify, message, severity="error", timeout=10, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.app.report_failure(event.worker)

    def action_leave_running(self) -> None:
        self.app.exit(message="The run goes on in its own process; `tuneui` reattaches to it.")

    def action_other_run(self, offset: int) -> None:
        runs = [run.run_id for run in self.app.workspace_state().runs]
        if not runs or self.run_id not in runs:
            return
        position = min(max(runs.index(self.run_id) + offset, 0), len(runs) - 1)
        self.run_id = runs[position]
        self.redraw()


def _plan_text(plan: dict) -> Text:
    """The plan the run follows (the defaults rule's choices) and why, as `tuneui train` printed it."""
    text = Text()
    text.append("plan ", style="dim")
    # spec.json is a file like any other: a value edited by hand is shown as it is, never run.
    text.append(visible(f"{plan.get('steps')} steps ({plan.get('epochs')} epochs), learning rate {plan.get('learning_rate')}, "
                        f"batch {plan.get('batch_size')}, LoRA r {plan.get('lora_r')} alpha {plan.get('lora_alpha')}, "
                        f"max length {plan.get('max_length')}"))  # fmt: skip
    for reason in plan.get("reasons") or ():
        text.append(visible(f"\n  {reason}"), style="dim")
    return text


def _stats_text(progress: ProgressSummary) -> Text:
    total = f"/{progress.total_steps}" if progress.total_steps else ""
    speed = f"{progress.tokens_per_second:,.0f}" if progress.tokens_per_second else "—"
    best = (
        f"step {progress.best_step} (validation loss {progress.best_valid_loss:.4f})"
        if progress.best_step is not None and progress.best_valid_loss is not None
        else "—"
    )
    text = Text()
    text.append("step ", style="dim")
    text.append(f"{progress.step}{total}")
    text.append("   tokens/s ", style="dim")
    text.append(speed)
    text.append("   ETA ", style="dim")
    text.append(format_seconds(progress.eta_seconds))
    text.append("   best ", style="dim")
    text.append(best)
    return text
