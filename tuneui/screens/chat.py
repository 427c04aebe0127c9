"""The Chat view: the base and the tuned model answer the same message side by side, streaming."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from tuneui.core.backend import BackendError, GenerationParams, ModelRef
from backends.runs import RunFolder
from tuneui.core.workspace import Workspace
from tuneui.errors import TuneError
from tuneui.guide.state import observe
from tuneui.steps.step_table import TRAIN
from tuneui.widgets.literal import literal, visible
from tuneui.messages import ChatChunk

SIDES = ("base", "tuned")
CHAT_PARAMS = GenerationParams(max_new_tokens=200, temperature=0.0)


class ChatScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("ctrl+l", "clear", "Clear"),
    ]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.models, self.labels = _models(workspace)
        # What each model is sent: the turns that happened. A failed reply is shown, never sent back.
        self.history: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
        self.shown: dict[str, list[tuple[str, str]]] = {side: [] for side in SIDES}  # (kind, text) as drawn
        self.replies: dict[str, str] = {side: "" for side in SIDES}
        self.streams: dict[str, Worker[None]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="chat-sides"):
            for side in SIDES:
                with VerticalScroll(id=f"chat-{side}", classes="chat-side") as column:
                    column.border_title = literal(f"{side}: {self.labels[side]}", keep="")
                    yield Static(id=f"chat-{side}-log", classes="chat-log")
        yield Input(placeholder="A message for both models (Enter sends)", id="chat-input")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#chat-input", Input).focus()
        self._log("base").update(Text("Type a message below: both models answer it, side by side.", style="dim"))
        if self.models["tuned"] is None:
            self._log("tuned").update(Text(f"No tuned model yet: finish a training run ({TRAIN.command}) to chat with it.", style="dim"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        message = event.value.strip()
        if not message:
            return
        if any(worker.is_running for worker in self.streams.values()):
            self.notify("Both models are still answering: send the next message when they are done.", severity="warning")
            return
        event.input.clear()
        for side in SIDES:
            model = self.models[side]
            if model is None:
                continue
            self.history[side].append({"role": "user", "content": message})
            self.shown[side].append(("user", message))
            self.replies[side] = ""
            self._redraw(side)
            conversation = self._system() + list(self.history[side])
            self.streams[side] = self.stream_reply(side, model, conversation)

    @work(thread=True, group="chat", name="stream a reply", exit_on_error=False)
    def stream_reply(self, side: str, model: ModelRef, conversation: list[dict[str, Any]]) -> None:
        from tuneui.core.providers import get_backend

        try:
            backend = get_backend(model.backend, self.workspace)
            for chunk in backend.stream(model, conversation, CHAT_PARAMS):
                self.post_message(ChatChunk(side, chunk))
        except (BackendError, TuneError) as exc:
            self.post_message(ChatChunk(side, "", done=True, error=f"{exc.title}. {exc.hint}".strip()))
            return
        self.post_message(ChatChunk(side, "", done=True))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        title, _ = self.app.report_failure(event.worker)
        side = next((side for side, worker in self.streams.items() if worker is event.worker), None)
        if side is not None:
            self.post_message(ChatChunk(side, "", done=True, error=title))

    def on_chat_chunk(self, message: ChatChunk) -> None:
        side = message.side
        self.replies[side] += message.text
        if message.error:
            # The question got no answer: it leaves the history too, so the next turn starts clean.
            if self.history[side] and self.history[side][-1]["role"] == "user":
                self.history[side].pop()
            self.shown[side].append(("error", message.error))
            self.replies[side] = ""
        elif message.done:
            self.history[side].append({"role": "assistant", "content": self.replies[side]})
            self.shown[side].append(("assistant", self.replies[side]))
            self.replies[side] = ""
        self._redraw(side)

    def action_clear(self) -> None:
        for side in SIDES:
            self.history[side].clear()
            self.shown[side].clear()
            self.replies[side] = ""
            self._redraw(side)

    def _redraw(self, side: str) -> None:
        text = Text()
        for kind, said in self.shown[side]:
            if kind == "user":
                text.append(visible("› " + said) + "\n", style="bold")
            elif kind == "error":
                text.append(visible(f"[{said}]") + "\n", style="italic red")
            else:
                text.append(visible(said) + "\n")
        if self.replies[side]:
            text.append(visible(self.replies[side]) + "▌\n")
        self._log(side).update(text)
        self.query_one(f"#chat-{side}", VerticalScroll).scroll_end(animate=False)

    def _log(self, side: str) -> Static:
        return self.query_one(f"#chat-{side}-log", Static)

    def _system(self) -> list[dict[str, Any]]:
        prompt = self.workspace.settings().project.system_prompt
        return [{"role": "system", "content": prompt}] if prompt else []


def _models(workspace: Workspace) -> tuple[dict[str, ModelRef | None], dict[str, str]]:
    """The tuned model of the newest finished run and the base model it was trained from, with
    their labels (the run id names the tuned model: its adapter path is long)."""
    run = observe(workspace).finished_run
    try:
        tuned = RunFolder(workspace.run_dir(run.run_id)).model_ref() if run else None
    except BackendError:  # damaged since it was listed: there is no tuned model to talk to
        tuned = None
    if tuned is not None:
        base: ModelRef | None = ModelRef(backend=tuned.backend, base_model=tuned.base_model)
    else:
        local = workspace.settings().models.local
        from tuneui.core.providers import here

        base = ModelRef(backend=here().name, base_model=local) if local else None
    labels = {
        "base": f"{base.backend}:{Path(base.base_model).name}" if base else "none configured",
        "tuned": f"run {run.run_id}" if tuned is not None and run else "none yet",
    }
    return {"base": base, "tuned": tuned}, labels
