"""Base-model candidates: `[models] candidates`, `tuneui baseline --model A --model B`, each priced."""

from __future__ import annotations

import json

import pytest

from tests.evaluate.evalkit import label_of, question_of
from tuneui.cli import main


def _answer(model, conversation):
    return label_of(question_of(conversation)) if model.base_model == "good-model" else "question"


def test_each_candidate_gets_its_own_baseline_on_the_same_split(ticket_project, scripted, capsys):
    scripted.answer = staticmethod(_answer)
    root = str(ticket_project.root)
    assert main(["--project", root, "baseline", "--backend", "scripted", "--model", "good-model", "--model", "weak-model", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["variants"][r["best"]]["accuracy"]) for r in results] == [("good-model", 1.0), ("weak-model", pytest.approx(1 / 3, abs=1e-3))]
    best = json.loads((ticket_project.baseline_dir / "best.json").read_text())
    assert sorted(entry["model"] for entry in best.values()) == ["good-model", "weak-model"]  # neither overwrote the other

    # One --model prints the one object it always printed, and the leaderboard holds both models.
    assert main(["--project", root, "baseline", "--backend", "scripted", "--model", "good-model", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "good-model"
    assert main(["--project", root, "runs", "--compare", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["model"] == "scripted:good-model" and {r["model"] for r in rows} == {"scripted:good-model", "scripted:weak-model"}
    saved = json.loads((ticket_project.reports_dir / "leaderboard.json").read_text())
    assert saved["rows"] == rows and saved["advice"].startswith("Carry on with scripted:good-model")


def test_candidates_from_the_settings_and_the_text_output(ticket_project, scripted, capsys):
    scripted.answer = staticmethod(_answer)
    ticket_project.update_settings({"models.candidates": ["scripted:good-model", "scripted:weak-model"]})
    assert 'candidates = ["scripted:good-model", "scripted:weak-model"]' in ticket_project.config_path.read_text()
    assert main(["--project", str(ticket_project.root), "baseline", "--candidates"]) == 0
    out = capsys.readouterr().out
    assert out.index("Baseline of scripted:good-model") < out.index("Baseline of scripted:weak-model")
    assert "Carry on with scripted:good-model" in out and "tuneui runs --compare" in out


def test_no_candidates_is_a_clear_error(ticket_project, capsys):
    assert main(["--project", str(ticket_project.root), "baseline", "--candidates"]) == 2
    err = capsys.readouterr().err
    assert "[models] candidates is empty" in err and "--model twice" in err


def test_a_bad_candidates_setting_names_the_key(ticket_project, capsys):
    text = ticket_project.config_path.read_text()
    ticket_project.config_path.write_text(text.replace("[models]", '[models]\ncandidates = "one-model"', 1))
    assert main(["--project", str(ticket_project.root), "runs", "--compare"]) != 0
    assert "models.candidates" in capsys.readouterr().err


def test_the_cost_step_prices_each_candidate(ticket_project, capsys):
    ticket_project.update_settings({"models.candidates": ["openai:gpt-4o-mini-2024-07-18", "openai:gpt-4.1-nano-2025-04-14"]})
    assert main(["--project", str(ticket_project.root), "estimate", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["estimates"]
    priced = {(row["backend"], row["model"]) for row in rows if isinstance(row.get("cost_usd"), float)}
    assert {("openai", "gpt-4o-mini-2024-07-18"), ("openai", "gpt-4.1-nano-2025-04-14")} <= priced
    saved = json.loads((ticket_project.reports_dir / "cost.json").read_text())["rows"]
    assert len(saved) == len(rows)


def test_train_compare_needs_two_candidates(ticket_project, capsys):
    assert main(["--project", str(ticket_project.root), "train", "--compare", "--model", "only-one"]) == 2
    assert "--compare needs two or more candidates" in capsys.readouterr().err
    assert main(["--project", str(ticket_project.root), "train", "--model", "a", "--model", "b"]) == 2
    assert "add --compare" in capsys.readouterr().err
