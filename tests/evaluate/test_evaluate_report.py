"""`tuneui report RUN`: Markdown and a self-contained HTML file, opened in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tuneui.cli import main
from tuneui.steps.evaluate import evaluate_run

from tests.evaluate.evalkit import (
    TICKETS,
    fair_judge,
    label_of,
    loss_curve,
    make_finished_run,
    many_tickets,
    question_of,
    write_split,
)

CHROMIUM = Path("/usr/bin/chromium")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report.png"


def _answer(model, conversation):
    if conversation[0]["content"].startswith("You are a strict, impartial evaluator"):
        return fair_judge(model, conversation)
    question = question_of(conversation)
    if question not in dict(TICKETS):
        return "Paris. 42." if model.kind == "base" else "<script>alert('x')</script> Paris"
    if model.kind == "adapter":
        return label_of(question)
    return "question"


@pytest.fixture
def evaluated_run(ticket_project, scripted):
    scripted.answer = staticmethod(_answer)
    run_id = make_finished_run(ticket_project)
    evaluate_run(ticket_project, run_id, judge="scripted:judge-model")
    return ticket_project, run_id


def test_report_writes_markdown_and_self_contained_html(evaluated_run, capsys) -> None:
    project, run_id = evaluated_run
    rows = [{"backend": "scripted", "model": "base-model", "cost_usd": 1.234, "billed_tokens": 52000}]
    (project.reports_dir / "cost.json").write_text(json.dumps({"rows": rows}))
    assert main(["--project", str(project.root), "report", run_id]) == 0
    assert f"{run_id}.html" in capsys.readouterr().out
    markdown = (project.reports_dir / f"{run_id}.md").read_text()
    html = (project.reports_dir / f"{run_id}.html").read_text()
    verdict = json.loads((project.run_dir(run_id) / "eval" / "result.json").read_text())["verdict"]
    assert f"**Verdict:** {verdict}".replace("[", "\\[").replace("]", "\\]") in markdown  # brackets are literal
    assert "| metric | zero-shot (baseline to beat) | system | 3-shot | tuned |" in markdown
    assert "## LLM judge (both orders)" in markdown
    assert f"[run spec](../runs/{run_id}/spec.json)" in markdown
    assert "[validation split](../data/val.jsonl)" in markdown
    assert "- **estimated training cost:** $1.23, 52,000 billed tokens" in markdown
    assert "[cost estimates](cost.json)" in markdown
    # The data checks of both splits, with what they found.
    assert "- **train.jsonl**: 6 examples, 0 errors, 1 warnings" in markdown
    assert "too_few_examples" in markdown and "<h2>Data checks</h2>" in html
    # One self-contained file: styles and the loss chart inline, no script, nothing fetched.
    assert "<svg" in html and html.count("<polyline") == 2
    assert not re.search(r"<script|<link|src=|url\(|https?://(?!www\.w3\.org/2000/svg)", html)
    # Model output is escaped, never executed.
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert('x')&lt;/script&gt; Paris" in markdown and "<script>" not in markdown


def test_report_before_eval_says_what_to_run(ticket_project, capsys) -> None:
    run_id = make_finished_run(ticket_project)
    assert main(["--project", str(ticket_project.root), "report", run_id]) == 2
    err = capsys.readouterr().err
    assert "has not been evaluated yet" in err and f"tuneui eval {run_id}" in err


def test_report_of_an_edited_result_says_to_evaluate_again(evaluated_run, capsys) -> None:
    project, run_id = evaluated_run
    result_file = project.run_dir(run_id) / "eval" / "result.json"
    result = json.loads(result_file.read_text())
    del result["verdict"]
    result_file.write_text(json.dumps(result))
    assert main(["--project", str(project.root), "report", run_id]) == 2
    err = capsys.readouterr().err
    assert "result.json lacks verdict" in err and f"tuneui eval {run_id}" in err
    result_file.write_text("{ broken")
    assert main(["--project", str(project.root), "report", run_id]) == 2
    assert "has not been evaluated yet" in capsys.readouterr().err


def _chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ]
    return subprocess.run([str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=60)


def _realistic_answer(model, conversation):
    """Tuned right on 9 tickets of 10; the base model on 3, 5 or 6 of 10 by prompt (for the screenshot)."""
    if conversation[0]["content"].startswith("You are a strict, impartial evaluator"):
        return fair_judge(model, conversation)
    question = question_of(conversation)
    label = REALISTIC.get(question)
    if label is None:
        return "The capital of France is Paris." if model.kind == "base" else "billing"
    number = int(question.rsplit("#", 1)[1].rstrip(")"))
    if model.kind == "adapter":
        right = number % 10 != 3
    elif any(m["role"] == "assistant" for m in conversation):  # the k-shot prompt
        right = number % 10 in (0, 2, 4, 5, 7, 9)
    elif conversation[0]["role"] == "system":
        right = number % 10 in (0, 2, 4, 5, 9)
    else:
        right = number % 10 in (0, 4, 9)
    return label if right else ("question" if label != "question" else "bug")


REALISTIC = dict(many_tickets(200))


@pytest.fixture
def realistic_run(workspace, scripted):
    settings = workspace.settings()
    settings.project.name = "support-tickets"
    settings.project.task = "Classify support tickets as billing, bug or question."
    workspace.save_settings(settings)
    write_split(workspace, many_tickets(140), many_tickets(60, offset=140))
    scripted.answer = staticmethod(_realistic_answer)
    run_id = make_finished_run(workspace, base_model="Qwen/Qwen2.5-0.5B-Instruct")
    (workspace.run_dir(run_id) / "events.jsonl").write_text("")
    loss_curve(workspace.run_dir(run_id))
    evaluate_run(workspace, run_id, judge="scripted:gpt-4o")
    return workspace, run_id


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed (apt-get install chromium)")
@pytest.mark.integration
def test_html_report_opens_in_headless_chromium(realistic_run, tmp_path) -> None:
    """Set TUNEUI_UPDATE_SCREENSHOT=1 to refresh docs/report.png from this page."""
    from tuneui.steps.report import write_report

    project, run_id = realistic_run
    files = write_report(project, run_id)
    dom = _chromium("--dump-dom", files.html.as_uri(), tmp_path=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # The browser parsed the whole page: the verdict, the tables and the SVG chart are in its DOM.
    assert "tuned beats the 3-shot prompt on 18 of 60 held-out examples, win rate 0.65" in dom.stdout
    assert dom.stdout.count("<polyline") == 2 and "Forgetting check" in dom.stdout
    shot = tmp_path / "report.png"
    result = _chromium(f"--screenshot={shot}", "--window-size=1100,1700", files.html.as_uri(), tmp_path=tmp_path)
    assert result.returncode == 0 and shot.stat().st_size > 20_000, result.stderr[-2000:]
    if os.environ.get("TUNEUI_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, DOCS_SCREENSHOT)
