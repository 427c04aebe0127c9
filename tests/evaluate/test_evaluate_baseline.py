"""The Baseline step with a scripted backend: variants, k-shot from train only, caching, the best."""

from __future__ import annotations

import json

import pytest

from tuneui.cli import main
from tuneui.steps.baseline import prompt_variants, recorded_best, run_baseline
from tuneui.core.dataset.model import Example
from tuneui.core.evalset import load_eval_set

from tests.evaluate.evalkit import SYSTEM, TICKETS, label_of, question_of, write_split


def _examples(pairs):
    return [
        Example(({"role": "system", "content": SYSTEM}, {"role": "user", "content": q}, {"role": "assistant", "content": a}))
        for q, a in pairs
    ]


def test_variants_are_zero_shot_system_and_k_shot_from_train() -> None:
    train = _examples(TICKETS[:6])
    variants = prompt_variants("", train, shots=3, seed=0)
    assert [v.name for v in variants] == ["zero-shot", "system", "3-shot"]
    val_example = _examples(TICKETS[6:7])[0]
    zero, system, three = (v.conversation(val_example) for v in variants)
    assert zero == [{"role": "user", "content": TICKETS[6][0]}]
    # No system prompt in tuneui.toml: the one the training data uses is the deployable prompt.
    assert system[0] == {"role": "system", "content": SYSTEM}
    assert len(three) == 1 + 3 * 2 + 1 and three[-1] == zero[-1]
    shot_questions = {m["content"] for m in three[1:-1] if m["role"] == "user"}
    assert shot_questions <= {q for q, _ in TICKETS[:6]}


def test_k_shot_choice_is_seeded() -> None:
    train = _examples(TICKETS[:6])
    assert prompt_variants("", train, 3, seed=1)[-1] == prompt_variants("", train, 3, seed=1)[-1]
    seeds = {prompt_variants("", train, 3, seed=s)[-1].shots for s in range(6)}
    assert len(seeds) > 1
    assert prompt_variants("Be brief.", train, 0, seed=0)[-1].system == "Be brief."
    assert [v.name for v in prompt_variants("", train, 0, seed=0)] == ["zero-shot", "system"]


def test_baseline_scores_variants_caches_answers_and_records_the_best(ticket_project, scripted) -> None:
    def answer(model, conversation):
        # Only prompts that show examples get the label right: k-shot must win.
        has_shots = sum(m["role"] == "assistant" for m in conversation) > 0
        return label_of(question_of(conversation)) if has_shots else "no idea"

    scripted.answer = staticmethod(answer)
    result = run_baseline(ticket_project, "scripted", "base-model", shots=2)
    assert [v.variant for v in result.variants] == ["zero-shot", "system", "2-shot"]
    assert result.best.variant == "2-shot"
    assert result.best.report.values["accuracy"] == 1.0
    assert result.variants[0].report.values["accuracy"] == 0.0
    assert len(scripted.calls) == 3
    # Val questions never appear among the shots.
    val_questions = {q for q, _ in TICKETS[6:]}
    for _, conversations in scripted.calls:
        for conversation in conversations:
            assert not {m["content"] for m in conversation[:-1]} & val_questions

    again = run_baseline(ticket_project, "scripted", "base-model", shots=2)
    assert len(scripted.calls) == 3, "saved answers must not be recomputed"
    assert all(v.cached for v in again.variants)
    data = load_eval_set(ticket_project)
    best = recorded_best(ticket_project, "scripted", "base-model", data.fingerprint)
    assert best["variant"] == "2-shot" and best["shots"] == 2 and best["value"] == 1.0
    saved = json.loads((ticket_project.baseline_dir / best["file"]).read_text())
    assert saved["predictions"] == [label for _, label in TICKETS[6:]]

    (ticket_project.baseline_dir / best["file"]).write_text("{ edited by hand")
    run_baseline(ticket_project, "scripted", "base-model", shots=2)
    assert len(scripted.calls) == 4, "a broken saved file is answered again, not fatal"

    write_split(ticket_project, TICKETS[:6], TICKETS[6:11])  # the val split changed
    run_baseline(ticket_project, "scripted", "base-model", shots=2)
    assert len(scripted.calls) == 7


def test_baseline_command_prints_json(ticket_project, scripted, capsys) -> None:
    scripted.answer = staticmethod(lambda model, conversation: label_of(question_of(conversation)))
    code = main(["--project", str(ticket_project.root), "baseline", "--backend", "scripted", "--model", "m", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["best"] == "zero-shot"  # all variants tie, the cheapest wins
    assert out["primary_metric"] == "accuracy"
    assert set(out["variants"]) == {"zero-shot", "system", "3-shot"}
    assert out["variants"]["3-shot"]["accuracy"] == 1.0


def test_baseline_without_a_val_split_is_a_clear_error(workspace, scripted, capsys) -> None:
    code = main(["--project", str(workspace.root), "baseline", "--backend", "scripted", "--model", "m"])
    err = capsys.readouterr().err
    assert code == 2
    assert "val.jsonl does not exist" in err and "tuneui data split" in err
    assert "Traceback" not in err


def test_baseline_with_a_broken_val_line_names_the_line(ticket_project, scripted, capsys) -> None:
    with ticket_project.val_file.open("a", encoding="utf-8") as handle:
        handle.write('{"messages": [ broken\n')
    code = main(["--project", str(ticket_project.root), "baseline", "--backend", "scripted", "--model", "m"])
    err = capsys.readouterr().err
    assert code == 1
    assert "val.jsonl:7" in err and "Traceback" not in err


@pytest.mark.parametrize("shots", ["-1"])
def test_negative_shots_are_refused(ticket_project, scripted, capsys, shots) -> None:
    assert main(["--project", str(ticket_project.root), "baseline", "--backend", "scripted", "--model", "m", "--shots", shots]) == 2
    assert "negative" in capsys.readouterr().err
