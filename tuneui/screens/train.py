"""The Train view: live training and validation loss, pace, the overfitting warning, cancel."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual_plotext import PlotextPlot

from backends.base import TERMINAL_STATES
from backends.runs import RunFolder, list_runs
from tuneui.core.workspace import Workspace
from tuneui.guide_progress import RunProgress, format_seconds, progress_of
from tuneui.messages import WorkspaceChanged


class TrainScreen(Screen):
    DEFAULT_CSS = """
    #loss-plot { height: 1fr; min-height: 8; }
    #run-stats, #run-warning, #run-plan { padding: 0 1; height: auto; }
    """

    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("x", "cancel_run", "Cancel run"),
        Binding("l", "leave_running", "Leave it running"),
        Binding("[", "other_run(-1)", "Older run"),
        Binding("]", "other_run(1)", "Newer run"),
    ]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.run_id: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="run-title", classes="view-title")
        yield PlotextPlot(id="loss-plot")
        yield Static("", id="run-stats")
        yield Static("", id="run-plan")
        yield Static("", id="run-warning")
        yield Footer()

    def on_mount(self) -> None:
        runs = list_runs(self.workspace.runs_dir)
        active = [run for run in runs if run.job_status().status not in TERMINAL_STATES]
        chosen = (active or runs)[-1:] if runs else []
        self.run_id = chosen[0].run_id if chosen else None
        self.redraw()

    def on_workspace_changed(self, event: WorkspaceChanged) -> None:
        self.redraw()

    def redraw(self) -> None:
        title = self.query_one("#run-title", Static)
        if self.run_id is None:
            title.update("No training run yet: type /train in the conversation (Esc goes back).")
            return
        folder = RunFolder(self.workspace.run_dir(self.run_id))
        status = folder.job_status()
        progress = progress_of(folder.read_events())
        title.update(f"Run {self.run_id} · {status.backend} · {status.status}" + (f" · {status.error}" if status.error else ""))
        self._plot(progress)
        self.query_one("#run-stats", Static).update(_stats_text(progress))
        plan = folder.read_spec().options.get("plan")
        plan_view = self.query_one("#run-plan", Static)
        plan_view.display = isinstance(plan, dict)
        plan_view.update(_plan_text(plan) if isinstance(plan, dict) else "")
        warning = self.query_one("#run-warning", Static)
        if progress.overfitting:
            warning.update(
                Text(
                    "⚠ Overfitting: validation loss is rising while training loss falls. "
                    f"The best checkpoint is step {progress.best_step}; early stopping will end the run.",
                    style="bold yellow",
                )
            )
        else:
            warning.update("")

    def _plot(self, progress: RunProgress) -> None:
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

    def action_cancel_run(self) -> None:
        if self.run_id is None:
            return
        run_id = self.run_id
        self.notify(f"Cancelling {run_id}: the worker saves a checkpoint first.")
        runner = self.app.runner
        self.run_worker(lambda: runner.run_command(["cancel", run_id], expect_json=False), thread=True, group="cancel")

    def action_leave_running(self) -> None:
        self.app.exit(message="The run goes on in its own process; `tuneui` reattaches to it.")

    def action_other_run(self, offset: int) -> None:
        runs = [run.run_id for run in list_runs(self.workspace.runs_dir)]
        if not runs or self.run_id not in runs:
            return
        position = min(max(runs.index(self.run_id) + offset, 0), len(runs) - 1)
        self.run_id = runs[position]
        self.redraw()


def _plan_text(plan: dict) -> Text:
    """The plan the run follows (the defaults rule's choices) and why, as `tuneui train` printed it."""
    text = Text()
    text.append("plan ", style="dim")
    text.append(f"{plan.get('steps')} steps ({plan.get('epochs')} epochs), learning rate {plan.get('learning_rate')}, "
                f"batch {plan.get('batch_size')}, LoRA r {plan.get('lora_r')} alpha {plan.get('lora_alpha')}, "
                f"max length {plan.get('max_length')}")  # fmt: skip
    for reason in plan.get("reasons") or ():
        text.append(f"\n  {reason}", style="dim")
    return text


def _stats_text(progress: RunProgress) -> Text:
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
