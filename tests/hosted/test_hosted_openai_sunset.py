"""OpenAI's sunset, by date: no new jobs from 2027-01-06, its tuned gpt-4o / gpt-4.1 models gone
from 2027-01-14. Dates are injected (`tuneui.core.providers.today`); each rule is seen the day before,
on the day and after."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tuneui.core import providers as registry
from tuneui.core.providers import get_backend
from tests.hosted.conftest import follow, make_spec
from tuneui.cli import main

pytestmark = pytest.mark.integration

LAST_DAY, GONE = dt.date(2027, 1, 6), dt.date(2027, 1, 14)
DAY = dt.timedelta(days=1)


def _on(monkeypatch: pytest.MonkeyPatch, day: dt.date) -> None:
    monkeypatch.setattr(registry, "today", lambda: day)


def _cli(project, capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["--project", str(project.root), *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("day", [LAST_DAY, LAST_DAY + DAY, GONE + DAY])
def test_train_refuses_before_any_upload_naming_who_still_trains_it_and_the_cost(fake_openai, project, capsys, monkeypatch, day) -> None:
    _on(monkeypatch, day)
    code, out, err = _cli(project, capsys, "train", "--backend", "openai", "--model", "gpt-4o-mini", "--json")

    assert code != 0 and out == "" and "Traceback" not in err
    assert "OpenAI is unavailable: it takes no new fine-tuning jobs since 2027-01-06" in err
    assert "azure (Azure OpenAI, for existing customers only)" in err and "billed tokens" in err
    assert not fake_openai.requests  # not even an upload
    assert not list(project.runs_dir.iterdir())


def test_the_day_before_train_still_starts_on_openai(fake_openai, project, capsys, monkeypatch) -> None:
    _on(monkeypatch, LAST_DAY - DAY)
    code, out, _ = _cli(project, capsys, "train", "--backend", "openai", "--model", "gpt-4o-mini", "--json")
    assert code == 0 and json.loads(out)["backend"] == "openai" and len(fake_openai.jobs) == 1


@pytest.mark.parametrize(("day", "available"), [(LAST_DAY - DAY, True), (LAST_DAY, False), (GONE + DAY, False)])
def test_estimate_marks_openai_unavailable_from_its_last_day(project, capsys, monkeypatch, day, available) -> None:
    _on(monkeypatch, day)
    code, out, err = _cli(project, capsys, "estimate", "--backend", "openai", "--model", "gpt-4o-mini", "--json")
    if available:
        assert code == 0 and json.loads(out)["cost_usd"] > 0
    else:
        assert code != 0 and "OpenAI is unavailable" in err and "azure" in err


@pytest.mark.parametrize(("day", "backend"), [(LAST_DAY - DAY, "openai"), (LAST_DAY, "together"), (GONE + DAY, "together")])
def test_the_default_hosted_backend_moves_off_openai(project, capsys, monkeypatch, day, backend) -> None:
    _on(monkeypatch, day)
    settings = project.settings()
    settings.models.hosted_backend = settings.models.hosted = ""  # the guide's default: chosen by date
    project.save_settings(settings)
    code, out, _ = _cli(project, capsys, "estimate", "--json")
    rows = json.loads(out)["estimates"]
    assert code == 0 and [row["backend"] for row in rows] == [backend]
    assert registry.hosted_choice("", "", day)[0] == backend


@pytest.mark.parametrize(("day", "served"), [(LAST_DAY, True), (GONE - DAY, True), (GONE, False), (GONE + DAY, False)])
def test_an_existing_openai_run_keeps_status_and_eval_until_its_models_are_gone(fake_openai, project, capsys, monkeypatch, day, served) -> None:
    _on(monkeypatch, LAST_DAY - DAY)
    backend = get_backend("openai", project)
    run_id = backend.start(make_spec(project, "openai"))
    follow(backend, run_id)
    _on(monkeypatch, day)

    code, out, _ = _cli(project, capsys, "status", run_id, "--json")
    assert code == 0 and json.loads(out)["status"] == "succeeded"
    tuned = backend.result(run_id)
    chats_before = len(fake_openai.calls("POST", "/chat/completions"))
    if served:
        assert get_backend("openai", project).generate(tuned, [[{"role": "user", "content": "hi"}]])
        return
    code, out, err = _cli(project, capsys, "eval", run_id, "--no-judge", "--no-forgetting", "--json")
    assert code != 0 and f"{tuned.model_id} is gone" in err and "2027-01-14" in err
    assert len(fake_openai.calls("POST", "/chat/completions")) == chats_before  # nothing was asked


def test_a_gpt_model_named_without_a_backend_after_the_last_day_is_still_openais_and_refused(fake_openai, project, capsys, monkeypatch) -> None:
    _on(monkeypatch, LAST_DAY)
    settings = project.settings()
    settings.models.hosted_backend = settings.models.hosted = ""
    project.save_settings(settings)
    code, out, err = _cli(project, capsys, "train", "--model", "gpt-4o-mini", "--json")
    assert code != 0 and "OpenAI is unavailable" in err and not fake_openai.requests


def test_from_the_last_day_a_plain_train_as_the_guide_runs_it_starts_on_together(fake_together, fake_openai, project, capsys, monkeypatch) -> None:
    _on(monkeypatch, LAST_DAY)
    settings = project.settings()
    settings.models.hosted_backend = settings.models.hosted = ""  # what `tuneui init` writes
    project.save_settings(settings)
    code, out, err = _cli(project, capsys, "train", "--json")  # the guide's Train step: no --backend
    assert code == 0, err
    assert json.loads(out)["backend"] == "together" and len(fake_together.jobs) == 1 and not fake_openai.requests
