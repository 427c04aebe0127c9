"""The Dataset view: the examples with their findings; search, filter by finding, edit, add,
duplicate, delete. Every change is saved atomically and checked again at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Select, Static
from textual.worker import Worker, WorkerState

from tuneui.core.dataset.fixes import fix_for
from tuneui.core.dataset.model import Example
from tuneui.core.workspace import Workspace
from tuneui.viewmodels.cards import one_line
from tuneui.errors import TuneError
from tuneui.steps.step_table import DATASET
from tuneui.viewmodels.dataset import (
    DatasetChangedError,
    DatasetSnapshot,
    blank_example,
    dataset_file,
    read_dataset,
    save_examples,
    with_messages,
)
from tuneui.widgets.literal import literal, visible
from tuneui.screens.confirm import ConfirmModal
from tuneui.screens.example_modal import ExampleModal

ALL_FINDINGS = "all examples"


class DatasetScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("e", "edit", "Edit"),
        Binding("a", "add", "Add"),
        Binding("d", "duplicate", "Duplicate"),
        Binding("delete,x", "delete", "Delete"),
        Binding("slash", "search", "Search"),
        Binding("f", "fix", "Fix"),
    ]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.path: Path | None = dataset_file(workspace)
        self.snapshot: DatasetSnapshot | None = None
        self.shown: list[int] = []
        self._generation = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="dataset-title", classes="view-title")
        with Horizontal(id="dataset-filters"):
            yield Input(placeholder="search (/)", id="dataset-search")
            yield Select([], prompt=ALL_FINDINGS, id="dataset-filter", allow_blank=True)
        yield DataTable(id="dataset-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="dataset-finding")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("line", "user", "answer", "findings")
        if self.path is None:
            self.query_one("#dataset-title", Static).update("No examples yet: type /import PATH in the conversation.")
            return
        path = self.path
        self._load(lambda: read_dataset(path))
        table.focus()

    def _load(self, read: Callable[[], DatasetSnapshot]) -> None:
        """Read (or save) and check in a thread: a large file must not freeze the screen. Only the
        newest read is shown, so a slow old one can never overwrite a newer edit."""
        self._generation += 1
        self.query_one("#dataset-title", Static).update("Reading and checking…")
        self.read_and_check(read, self._generation)

    @work(thread=True, group="dataset", name="read and check the examples", exit_on_error=False)
    def read_and_check(self, read: Callable[[], DatasetSnapshot], generation: int) -> None:
        self.app.call_from_thread(self._show, read(), generation)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            title, _ = self.app.report_failure(event.worker)
            self.query_one("#dataset-title", Static).update(literal(title))

    def _show(self, snapshot: DatasetSnapshot, generation: int) -> None:
        if generation != self._generation:
            return
        self.snapshot = snapshot
        codes = snapshot.codes()
        select = self.query_one(Select)
        chosen = select.value if select.value in codes else Select.NULL
        select.set_options((code, code) for code in codes)
        select.value = chosen
        self._fill()

    def _fill(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        search = self.query_one("#dataset-search", Input).value
        code = self.query_one(Select).value
        self.shown = snapshot.matching(search, code if isinstance(code, str) else "")
        table = self.query_one(DataTable)
        table.clear()
        for position in self.shown:
            example = snapshot.examples[position]
            table.add_row(
                str(example.line or "—"), literal(one_line(example.user_text, 24)), literal(one_line(example.answer or "", 24)),
                literal(", ".join(snapshot.codes_at(example.line))),
            )
        errors = sum(1 for f in snapshot.findings if f.severity == "error")
        warnings = len(snapshot.findings) - errors
        mode = "" if snapshot.editable else " · read-only (not a chat JSONL file)"
        if snapshot.editable and snapshot.lines_without_example():
            mode = " · read-only until the lines that hold no example are fixed"
        self.query_one("#dataset-title", Static).update(
            literal(
                f"{snapshot.path.name}: {len(snapshot.examples)} examples, {errors} errors, {warnings} warnings"
                f" · showing {len(self.shown)}{mode}"
            )
        )
        self._describe_row()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "dataset-search":
            self._fill()

    def on_select_changed(self, event: Select.Changed) -> None:
        self._fill()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._describe_row()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit()

    def _describe_row(self) -> None:
        example = self._current()
        text = ""
        if example is not None and self.snapshot is not None:
            found = [f for f in self.snapshot.findings if f.line is not None and f.line == example.line]
            text = "\n".join(f"{f.severity} {f.code}: {f.message} {f.hint}" for f in found)
            if any(fix_for(f.code) for f in found):
                text += "\nf: fix it here or in every example (shown as a diff before it is saved)"
        self.query_one("#dataset-finding", Static).update(literal(text))

    def action_fix(self) -> None:
        """The mechanical fix of the highlighted example's finding, through the guide: a diff first."""
        example = self._current()
        fixes = [fix_for(code) for code in self.snapshot.codes_at(example.line)] if example and self.snapshot else []
        fix = next((fix for fix in fixes if fix), None)
        if fix is None:
            self.notify("No mechanical fix for this example's findings: edit it (e).", timeout=4)
            return
        self.app.action_guide(f"/fix {fix} {example.line}")

    def action_search(self) -> None:
        self.query_one("#dataset-search", Input).focus()

    def action_edit(self) -> None:
        example = self._current()
        if example is None or not self._editable():
            return
        position = self.shown[self.query_one(DataTable).cursor_row]

        def saved(contents: list[Any] | None) -> None:
            if contents is not None and self.snapshot is not None:
                examples = list(self.snapshot.examples)
                examples[position] = with_messages(example, contents)
                self._save(examples)

        self.app.push_screen(ExampleModal(example), saved)

    def action_add(self) -> None:
        if not self._editable() or self.snapshot is None:
            return
        blank = blank_example(self.workspace.settings().project.system_prompt)

        def saved(contents: list[Any] | None) -> None:
            if contents is not None and self.snapshot is not None:
                self._save([*self.snapshot.examples, with_messages(blank, contents)])

        self.app.push_screen(ExampleModal(blank), saved)

    def action_duplicate(self) -> None:
        example = self._current()
        if example is None or not self._editable() or self.snapshot is None:
            return
        position = self.shown[self.query_one(DataTable).cursor_row]
        examples = list(self.snapshot.examples)
        examples.insert(position + 1, example)
        self._save(examples)

    def action_delete(self) -> None:
        example = self._current()
        if example is None or not self._editable() or self.snapshot is None:
            return
        position = self.shown[self.query_one(DataTable).cursor_row]
        asked_about = self.snapshot

        def answered(yes: bool | None) -> None:
            # A save or re-read meanwhile changed the positions: delete nothing rather than a neighbour.
            if yes and self.snapshot is asked_about:
                examples = list(asked_about.examples)
                del examples[position]
                self._save(examples)

        where = f"line {example.line}" if example.line else "this example"
        self.app.push_screen(ConfirmModal(f"Delete the example at {where}? “{one_line(example.user_text, 50)}”"), answered)

    def _save(self, examples: list[Example]) -> None:
        assert self.path is not None
        path, read = self.path, self.snapshot

        def save() -> DatasetSnapshot:
            try:
                saved = save_examples(self.workspace, path, examples, read)
            except DatasetChangedError as exc:
                # Another app or command wrote the file: show what it holds now, and say the edit was not saved.
                self.app.call_from_thread(self.notify, visible(f"{exc.title}. {exc.hint}"), severity="error", timeout=10, markup=False)
                return read_dataset(path)
            self.app.call_from_thread(
                self.notify, visible(f"Saved {path.name} and checked it again. Run {DATASET.command} to split the new version."),
                timeout=4, markup=False,
            )  # fmt: skip
            return saved

        self._load(save)

    def _current(self) -> Example | None:
        table = self.query_one(DataTable)
        if self.snapshot is None or not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.snapshot.examples[self.shown[table.cursor_row]]

    def _editable(self) -> bool:
        if self.snapshot is not None and not self.snapshot.editable:
            self.notify("This file is read-only here: only OpenAI chat JSONL files are edited in place.", severity="warning")
            return False
        if self.snapshot is not None and (unread := self.snapshot.lines_without_example()):
            self.notify(visible(_would_drop(self.snapshot.path, unread)), severity="warning", timeout=10, markup=False)
            return False
        return True


def _would_drop(path: Path, lines: tuple[int, ...]) -> str:
    """Why a file cannot be edited yet: a save writes its examples only, and these lines hold none."""
    shown = ", ".join(map(str, lines[:5])) + (", …" if len(lines) > 5 else "")
    if len(lines) == 1:
        return f"Line {shown} of {path.name} holds no example, and a save would drop it: fix it in {path} (its finding says how), then edit here."
    return f"Lines {shown} of {path.name} hold no example, and a save would drop them: fix them in {path} (their findings say how), then edit here."
