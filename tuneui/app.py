"""The Textual app: one guide, one main screen, a full view per step, and a watch on the runs.

Heavy work never runs here: steps run as child processes from thread workers (`tuneui.guide.runner`),
training in the backend's detached worker. The app only reads the workspace to follow them.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import traceback
from typing import Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from tuneui.core import locations
from tuneui.core.children import ENDING_SIGNALS, end_children
from tuneui.core.files import disk_full_error, is_disk_full
from tuneui.core.secrets import redact
from tuneui.core.workspace import Workspace
from tuneui.core.backend import BackendError
from tuneui.errors import TuneError, WorkspaceError
from tuneui.guide.machine import CANCEL_COMMAND, COMMANDS, HELP_COMMAND, REPORT_COMMAND, STATUS_COMMAND, Action, Guide, Turn
from tuneui.guide.progress import StepProgress
from tuneui.guide.watch import CachedFile
from tuneui.guide.state import DAMAGED, WorkspaceState, WorkspaceWatch
from tuneui.guide.runner import StepResult, StepRunner, run_action
from tuneui.steps.step_table import ROWS, TRAIN, VIEWS
from tuneui.widgets.literal import visible
from tuneui.messages import StepFinished, StepProgressed, WorkspaceChanged
from tuneui.screens.main import MainScreen

POLL_SECONDS = 1.0
SIGNAL_EXIT_GRACE_SECONDS = 5.0
# What Textual's exit writes, for when it cannot: main screen, mouse tracking off, cursor shown.
TERMINAL_RESTORE = "\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l\x1b[?2004l\x1b[?1049l\x1b[?25h"
HOSTED_RETRY_SECONDS = 30.0


class TuneApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "tuneui"
    BINDINGS = [
        Binding("f1", f"guide({HELP_COMMAND!r})", "Help", show=False),
        # Work on every screen; listed in the footer by the main screen only (tuneui.screens.main):
        # beside a view's own keys they would not fit 80 columns.
        *(Binding(view.key, f"open_view({view.name!r})", view.name, show=False) for view in VIEWS if view.key),
        # Works everywhere; the main screen lists it (a view's own keys fill its footer at 80 columns).
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False),
    ]

    def __init__(
        self,
        workspace: Workspace,
        *,
        train_steps: int | None = None,
        poll_seconds: float = POLL_SECONDS,
        first_view: Callable[[Workspace], Screen] | None = None,  # opened over the guide at start (`tuneui review RUN`)
    ) -> None:
        super().__init__()
        self.first_view = first_view
        self.workspace = workspace
        self.handle_signals = False  # run_app sets it: a test's app must not take over the test process's signals
        settings = workspace.settings()
        # The guide reads [models] assistant at each question: setting it needs no restart.
        self.guide = Guide(workspace)
        self.runner = StepRunner(workspace, train_steps=train_steps)
        self.runner.on_progress = self._progress_from_thread
        self.step_progress: StepProgress | None = None
        self.guide.progress = lambda: self.step_progress.text() if self.step_progress else ""
        # tuneui.toml edited by hand (or by the guide): the open question is checked against it.
        self._config = CachedFile(workspace.config_path, lambda path: path.read_bytes() if path.is_file() else b"")
        self._config_seen = self._config.value()
        self.poll_seconds = poll_seconds
        self.busy: Action | None = None
        self.watch = WorkspaceWatch(workspace)
        # The guide reads the same watch: answering never re-reads every run from disk.
        self.guide.read_state = lambda _: self.watch.poll()
        self._state = self.watch.poll()
        self._shown_version = self.watch.version
        self._run_statuses = {run.run_id: run.status for run in self._state.runs}
        self._follow_due: dict[str, float] = {}
        self.sub_title = visible(settings.project.name, keep="")

    def get_default_screen(self) -> Screen:
        return MainScreen()

    def on_mount(self) -> None:
        self.set_interval(self.poll_seconds, self.poll_workspace)
        if self.handle_signals:
            self._quit_on_signals()
        if self.first_view is not None:
            self.push_screen(self.first_view(self.workspace))

    def _quit_on_signals(self) -> None:
        """SIGTERM and SIGHUP quit as ctrl+q does: the step's children end, and Textual gives the
        terminal back (main screen, no mouse tracking, cursor shown) instead of dying inside it."""
        loop = asyncio.get_running_loop()
        for signum in ENDING_SIGNALS:
            loop.add_signal_handler(signum, self._quit_by_signal, signum)

    def _quit_by_signal(self, signum: int) -> None:
        self.runner.cancel.set()
        end_children()
        self.exit(return_code=128 + signum)
        # After a hangup the terminal may be gone and the exit stuck writing to it: go regardless.
        fallback = threading.Timer(SIGNAL_EXIT_GRACE_SECONDS, _leave_terminal_and_exit, args=(128 + signum,))
        fallback.daemon = True
        fallback.start()

    def on_unmount(self) -> None:
        # A step still running in a child process is stopped, so quitting never waits on it.
        self.runner.cancel.set()

    def workspace_state(self) -> WorkspaceState:
        return self._state

    def converse(self, text: str) -> None:
        """What the user typed or chose, through the guide, into the conversation and maybe an action."""
        turn = self.guide.answer(text)
        if self.busy is not None and turn.action is not None and turn.action.kind not in ("open", "cancel"):
            self._say(Turn(says=(f"Still working on {self.busy.kind} ({self.guide.progress()}); one step at a time. "
                                 f"Views, questions and /status work meanwhile; {CANCEL_COMMAND} stops it.",)))  # fmt: skip
            return
        self._say(turn)
        self._config_changed()
        if turn.action is not None:
            self.perform(turn.action)

    def recheck(self, why: str = "") -> None:
        """Ask again when the open question no longer fits the project (`Guide.recheck`)."""
        if self.busy is not None and self.busy.kind == "ask":
            return
        turn = self.guide.recheck()
        if turn is not None:
            self._say(Turn(says=((why,) if why else ()) + turn.says, cards=turn.cards, question=turn.question, choices=turn.choices))

    def _config_changed(self) -> bool:
        config = self._config.value()
        changed, self._config_seen = config != self._config_seen, config
        return changed

    def perform(self, action: Action) -> None:
        if action.kind == "open":
            self.action_open_view(action.argument)
            return
        if action.kind == "cancel":
            self.runner.cancel.set()
            return
        self.busy = action
        self.guide.busy = action.kind
        self.runner.cancel.clear()
        self.step_progress = StepProgress(action.kind)
        self._main().show_working(f"working: {action.kind}…")
        self._show_progress()
        self._main().show_state(self._state)
        self.refresh_bindings()
        context = self.guide.assistant_context() if action.kind == "ask" else ""
        self.carry_out(action, context)

    def step_states(self, state: WorkspaceState) -> dict[str, str]:
        """The sidebar's states, with the step running here marked running (never done)."""
        return dict(self.guide.step_states(state))

    def _progress_from_thread(self, line: str) -> None:
        self.call_from_thread(self._take_progress, line)

    def _take_progress(self, line: str) -> None:
        if self.step_progress is not None and self.step_progress.feed(line):
            self._show_progress()

    def _show_progress(self) -> None:
        text = self.step_progress.text() if self.step_progress is not None and self.busy is not None else ""
        self._main().show_progress(text)
        if self.busy is not None:
            self.screen.post_message(StepProgressed(self.busy.kind, text))

    @work(thread=True, group="step", name="carry out a guide step", exit_on_error=False)
    def carry_out(self, action: Action, context: str) -> None:
        """In a thread: run the step and report back. An exception ends in `on_worker_state_changed`."""
        self.post_message(StepFinished(action, run_action(self.runner, action.kind, action.argument, context)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == "step" and self.busy is not None:
            # A step that broke is a turn of the conversation, like a step that failed.
            title, hint = failure_text(event.worker.error, self.busy.kind)
            self.post_message(StepFinished(self.busy, StepResult(False, title=title, hint=hint)))
            return
        self.report_failure(event.worker)

    def report_failure(self, worker: Worker) -> tuple[str, str]:
        """The one way a worker's failure is shown (screens send theirs here): title and hint."""
        title, hint = failure_text(worker.error, worker.name)
        self.notify(visible(f"{title}\n{hint}".strip()), severity="error", timeout=10, markup=False)
        return title, hint

    def on_step_finished(self, message: StepFinished) -> None:
        self.busy = None
        self.guide.busy = ""
        self.step_progress = None
        self._main().show_working("")
        self._show_progress()
        self.screen.post_message(StepProgressed("", ""))
        self.refresh_bindings()
        self.poll_workspace(recheck=False)
        self._main().show_state(self._state)
        self._say(self.guide.finished(message.action, message.result))
        self._config_changed()  # the guide's own writes are said already: not "changed" again
        if message.action.kind == "train" and message.result.ok:
            self.action_open_view(TRAIN.name)

    def poll_workspace(self, recheck: bool = True) -> None:
        """Follow runs (started here or before): a run that ends gets a line in the conversation.
        Only changed files are read (`WorkspaceWatch`), and views redraw only when something moved."""
        self._state = self.watch.poll()
        for run in self._state.runs:
            before = self._run_statuses.get(run.run_id)
            self._run_statuses[run.run_id] = run.status
            if before is not None and before != run.status and run.status == DAMAGED:
                self._say(Turn(says=(f"Run {run.run_id} is damaged: {run.problem}",)))
            elif before is not None and before != run.status and not run.active:
                self._say(Turn(says=(f"Run {run.run_id} {run.status} after {run.steps} steps.",)))
                self.notify(visible(f"Run {run.run_id} {run.status}. Esc returns to the guide."), timeout=8, markup=False)
                if recheck:
                    self.recheck()
            if run.active and _is_hosted(run.backend):
                self._follow_hosted(run.run_id, run.backend)
        if self.step_progress is not None:
            self._show_progress()  # the elapsed time and the ETA move between the step's lines
        if self._config_changed() and recheck:
            self.recheck("tuneui.toml changed.")
        if self.watch.version == self._shown_version:
            return
        self._shown_version = self.watch.version
        if recheck:
            self.recheck()
        self.screen.post_message(WorkspaceChanged())
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen) and screen is not self.screen:
                screen.post_message(WorkspaceChanged())

    def _follow_hosted(self, run_id: str, backend_name: str) -> None:
        """A hosted job's news lives at the provider: fetch it into the run folder at the backend's pace.
        (A local run's worker writes its own events; reading the folder is enough.)"""
        if time.monotonic() < self._follow_due.get(run_id, 0.0):
            return
        self._follow_due[run_id] = float("inf")  # one fetch at a time; the fetch sets the next time
        self.fetch_hosted(run_id, backend_name)

    @work(thread=True, group="follow", name="fetch a hosted run's news", exit_on_error=False)
    def fetch_hosted(self, run_id: str, backend_name: str) -> None:
        from tuneui.core.providers import get_backend

        delay = HOSTED_RETRY_SECONDS
        try:
            backend = get_backend(backend_name, self.workspace)
            delay = backend.poll_seconds
            backend.status(run_id)
        except (BackendError, TuneError) as exc:
            message = visible(f"Following {run_id}: {exc.title}. {exc.hint}")
            self.call_from_thread(self.notify, message, severity="warning", timeout=8, markup=False)
        finally:
            self._follow_due[run_id] = time.monotonic() + delay

    def action_guide(self, command: str) -> None:
        if not isinstance(self.screen, MainScreen):
            self.pop_to_main()
        self.converse(command)

    def action_open_view(self, name: str) -> None:
        from tuneui.screens import views

        view = views.create(name, self.workspace)
        if type(self.screen) is type(view):
            return
        self.pop_to_main()
        self.push_screen(view)

    def action_back(self) -> None:
        self.pop_to_main()

    async def action_quit(self) -> None:
        """Quit, but ask first when an edit would be lost (a training run goes on either way)."""
        if not any(getattr(screen, "has_unsaved_edit", lambda: False)() for screen in self.screen_stack):
            await super().action_quit()
            return
        from tuneui.screens.confirm import ConfirmModal

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        if not isinstance(self.screen, ConfirmModal):
            self.push_screen(ConfirmModal("Quit and drop the unsaved edit of this example?"), answered)

    def pop_to_main(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, MainScreen):
            self.pop_screen()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for view in VIEWS:
            key = f" ({view.key.upper()})" if view.key else ""
            yield SystemCommand(f"Open {view.name}", f"The {view.name} view{key}", lambda name=view.name: self.action_open_view(name))
        for row in ROWS:
            if row.action:
                yield SystemCommand(row.command, row.help, lambda command=row.command: self.action_guide(command))
        for command in (REPORT_COMMAND, CANCEL_COMMAND, STATUS_COMMAND, HELP_COMMAND):
            yield SystemCommand(command, COMMANDS[command], lambda command=command: self.action_guide(command))

    def _main(self) -> MainScreen:
        return next(screen for screen in self.screen_stack if isinstance(screen, MainScreen))

    def _say(self, turn: Turn) -> None:
        self._main().show_turn(turn)


def failure_text(error: BaseException | None, doing: str) -> tuple[str, str]:
    """Title and hint of a worker's failure: tuneui's own errors say what to do; anything else is a
    bug, told in one line (its traceback with TUNEUI_DEBUG=1), the way the CLI tells it."""
    if isinstance(error, (TuneError, BackendError)):
        return redact(error.title), redact(error.hint)
    if is_disk_full(error):
        named = disk_full_error(getattr(error, "filename", None))
        return redact(named.title), redact(named.hint)
    title = redact(f"{doing} failed unexpectedly: {type(error).__name__}: {error}")
    if locations.debugging() and error is not None:
        return title, redact("".join(traceback.format_exception(error)))
    return title, "This is a bug in tuneui, not in your data: see TUNEUI_DEBUG=1 for where, and report it."


def create_app(
    workspace: Workspace, *, train_steps: int | None = None, first_view: Callable[[Workspace], Screen] | None = None
) -> TuneApp:
    """The one factory the CLI and the tests share."""
    if not workspace.exists():
        raise WorkspaceError(
            f"No tuneui project in {workspace.root}",
            "Run `tuneui init` here to start one, or `tuneui demo` to try the sample project.",
        )
    return TuneApp(workspace, train_steps=train_steps, first_view=first_view)


def run_app(
    workspace: Workspace, *, train_steps: int | None = None, first_view: Callable[[Workspace], Screen] | None = None
) -> int:
    app = create_app(workspace, train_steps=train_steps, first_view=first_view)
    app.handle_signals = True
    try:
        app.run()
    finally:
        app.runner.cancel.set()
        end_children()  # a step's child that outlived the app's last moment (the training worker is not one)
    return 0 if app.return_code in (None, 0) else int(app.return_code)


def _is_hosted(backend_name: str) -> bool:
    """Whether the run's news lives at a provider (a backend unknown here has none to fetch)."""
    from tuneui.core.backend import BackendError
    from tuneui.core.providers import provider

    try:
        return provider(backend_name).hosted
    except BackendError:
        return False


def _leave_terminal_and_exit(code: int) -> None:
    try:
        os.write(sys.__stderr__.fileno(), TERMINAL_RESTORE.encode())
    except (OSError, AttributeError, ValueError):
        pass
    os._exit(code)
