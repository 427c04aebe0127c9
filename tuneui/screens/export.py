"""The Export view: the newest export's files, the checks it ran and the commands that use it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tuneui.core.files import read_json
from tuneui.core.workspace import Workspace
from tuneui.guide.step_table import EXPORT
from tuneui.steps.export.paths import EXPORTS_DIR, RESULT_FILE
from tuneui.viewmodels.export_card import export_card, export_commands, export_rows
from tuneui.widgets.literal import literal


class ExportScreen(Screen):
    DEFAULT_CSS = """
    ExportScreen #export-table { height: auto; max-height: 60%; }
    ExportScreen #export-scroll { height: 1fr; }
    ExportScreen #export-commands { padding: 1 1 0 1; }
    """
    BINDINGS = [Binding("escape", "app.back", "Back"), Binding("x", f"app.guide({EXPORT.command!r})", EXPORT.name)]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="export-title", classes="view-title")
        yield DataTable(id="export-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="export-scroll"):
            yield Static("", id="export-commands")
        yield Static(
            "Checked at export: merged vs adapter answers, the GGUF's template and stop ids, the GGUF's answers "
            "read back, and the Modelfile's prompt text. Not checked: Ollama, vLLM or llama.cpp themselves.",
            classes="view-note",
        )
        yield Footer()

    def on_mount(self) -> None:
        title = self.query_one("#export-title", Static)
        folder = self.workspace.root / EXPORTS_DIR
        results = sorted(folder.glob(f"*/{RESULT_FILE}"), key=lambda path: path.stat().st_mtime) if folder.is_dir() else []
        if not results:
            title.update(f"Nothing exported yet: press x (or type {EXPORT.command}) to export the newest tuned run.")
            return
        path = results[-1]
        try:
            data = read_json(path)
            rows, commands, card = export_rows(data), export_commands(data), export_card(data)
        except (ValueError, TypeError, AttributeError) as exc:  # not JSON, or not what tuneui wrote
            title.update(literal(f"{path.relative_to(self.workspace.root)} is damaged: {type(exc).__name__}: {exc}\n"
                                 f"Export again with `tuneui export RUN --force`."))  # fmt: skip
            return
        title.update(literal(card.title))
        table = self.query_one(DataTable)
        table.add_columns(*(literal(column) for column in card.columns))
        for row in rows:
            table.add_row(*(literal(cell) for cell in row))
        text = "\n\n".join(f"{name}:\n{command}" for name, command in commands)
        self.query_one("#export-commands", Static).update(literal(text))
        table.focus()
