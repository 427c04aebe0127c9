"""The Cost view: every backend side by side, from the Cost step's saved comparison."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tuneui.core.files import read_json
from tuneui.core.workspace import Workspace
from tuneui.steps.step_table import COST
from tuneui.viewmodels.cards import cost_card
from tuneui.steps.cost import cost_report_path
from tuneui.widgets.literal import literal


class CostScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("r", f"app.guide({COST.command!r})", "Re-estimate"),
    ]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="cost-title", classes="view-title")
        yield DataTable(id="cost-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="cost-notes", classes="view-note")
        yield Static(
            "Hosted: exact token counts × epochs × the dated price table. Local: memory and time "
            "from the model's config; prices are as of the date shown.",
            classes="view-note",
        )
        yield Footer()

    def on_mount(self) -> None:
        path = cost_report_path(self.workspace)
        table = self.query_one(DataTable)
        title = self.query_one("#cost-title", Static)
        try:
            report = read_json(path)
            card = cost_card(report) if report else None
        except (ValueError, TypeError, AttributeError) as exc:  # not JSON, not UTF-8, or not the rows tuneui saved
            shown = path.relative_to(self.workspace.root)
            title.update(literal(f"{shown} is damaged, not the comparison tuneui saved: {type(exc).__name__}: {exc}\n"
                                 f"Press r (or type {COST.command}) to estimate again (that rewrites it), or restore the file."))  # fmt: skip
            return
        if card is None:
            title.update(f"No estimate yet: press r (or type {COST.command}) to estimate every backend.")
            return
        title.update(literal(card.title))
        # The notes are sentences: under the table, where they wrap, never cut at the table's edge.
        table.add_columns(*(literal(column) for column in card.columns[:-1]))
        notes = []
        for row in card.rows:
            table.add_row(*(literal(cell) for cell in row[:-1]))
            if row[-1]:
                notes.append(f"{row[0]}: {row[-1]}")
        self.query_one("#cost-notes", Static).update(literal("\n".join(notes)))
        table.focus()
