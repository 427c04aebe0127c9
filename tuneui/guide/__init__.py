"""The guide: the table of its steps (`step_table`), its state machine (`machine`), what it reads of
the workspace (`state`) and how it runs each step (`runner`). No Textual here: every path through
it is unit-tested."""
