"""The third attack, finding 2: the Markdown report passed raw HTML through (a project name
`<script>...</script>`) and kept `[x](javascript:...)` links from the dataset and the models'
answers. Every text from a user, a file or a provider is now literal Markdown; the HTML report
stays escaped (issue 24)."""

from __future__ import annotations

import re

import pytest

from tuneui.cli import main
from tuneui.steps.evaluate import evaluate_run

from tests.evaluate.conftest import scripted, ticket_project  # noqa: F401 (fixtures)
from tests.evaluate.evalkit import TICKETS, make_finished_run, question_of, write_split

NAME = "<script>alert('name')</script> Support"
LINK = "[click me](javascript:alert(1))"
IMAGE = "![pixel](http://tracker.invalid/p.png)"
HTML = "<img src=x onerror=alert(2)>"
TITLE = "\x1b]0;pwned\x07"  # retitles the terminal of whoever `cat`s the report


def _answer(model, conversation):
    question = question_of(conversation)
    if not any(question.startswith(ticket) for ticket, _ in TICKETS):
        return f"Paris {HTML}"  # a general prompt of the forgetting check
    return f"{LINK} {IMAGE} **bold** `code` {TITLE}" if model.kind == "adapter" else "question"


@pytest.fixture
def hostile_report(ticket_project, scripted):  # noqa: F811 (fixtures)
    settings = ticket_project.settings()
    settings.project.name = NAME
    ticket_project.save_settings(settings)
    # Held-out requests that are themselves a link and HTML.
    write_split(ticket_project, TICKETS[:6], [(f"{q} {LINK} <b>hi</b>", a) for q, a in TICKETS[6:]])
    scripted.answer = staticmethod(_answer)
    run_id = make_finished_run(ticket_project)
    evaluate_run(ticket_project, run_id)
    assert main(["--project", str(ticket_project.root), "report", run_id]) == 0
    markdown = (ticket_project.reports_dir / f"{run_id}.md").read_text(encoding="utf-8")
    html = (ticket_project.reports_dir / f"{run_id}.html").read_text(encoding="utf-8")
    return markdown, html


def test_the_markdown_report_holds_no_raw_html(hostile_report):
    markdown, _ = hostile_report
    assert "<script" not in markdown and "<img" not in markdown and "<b>" not in markdown
    assert "&lt;script&gt;alert('name')&lt;/script&gt; Support" in markdown  # shown as written


def test_the_markdown_report_holds_no_link_or_image_from_the_data(hostile_report):
    markdown, _ = hostile_report
    # A link needs an unescaped [ ... ]( pair; every bracket from the data is escaped.
    assert not re.search(r"(?<!\\)\]\((javascript|http)", markdown)
    assert "\\[click me\\](javascript:alert(1))" in markdown
    # The report's own links to its files remain links.
    assert re.search(r"^- \[run spec\]\(\.\./runs/[^)]+/spec\.json\)$", markdown, re.MULTILINE)


def test_the_markdown_report_has_no_emphasis_or_code_from_the_data(hostile_report):
    markdown, _ = hostile_report
    assert "\\*\\*bold\\*\\*" in markdown and "\\`code\\`" in markdown


def test_the_html_report_stays_escaped(hostile_report):
    _, html = hostile_report
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>hi</b>" not in html
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in html


def test_a_hostile_run_id_cannot_end_a_report_link():
    from tuneui.steps.report.markdown import _href

    assert _href("../runs/a) [x](javascript:alert(1)/spec.json") == "../runs/a%29%20%5Bx%5D%28javascript%3Aalert%281%29/spec.json"


def test_the_markdown_report_holds_no_control_character(hostile_report):
    markdown, _ = hostile_report
    assert "\x1b" not in markdown and "\x07" not in markdown
    assert "␛\\]0;pwned␇" in markdown  # shown, as the CLI shows it (the ] escaped as Markdown)
