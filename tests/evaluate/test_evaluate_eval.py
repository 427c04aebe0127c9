"""`tuneui eval RUN` with a scripted backend: the exact JSON interface, verdicts, reuse, errors."""

from __future__ import annotations

import json

from tuneui.cli import main
from tuneui.steps.evaluate import evaluate_run

from tests.evaluate.evalkit import TICKETS, label_of, make_finished_run, question_of

EXACT_KEYS = {"run_id", "split", "examples", "metrics", "comparison", "stopped_on_their_own", "judge", "verdict", "rules", "human"}


def _tuned_knows_labels(model, conversation):
    """The tuned adapter answers every ticket right; the base model says "question" to everything."""
    if conversation[0]["content"].startswith("You are a strict, impartial evaluator"):
        return "Winner: A"  # a position-biased judge
    if model.kind == "adapter":
        return label_of(question_of(conversation)) if question_of(conversation) in dict(TICKETS) else "Paris"
    return "question" if question_of(conversation) in dict(TICKETS) else "Paris is the capital. 42. Buenos dias."


def _eval_json(project, run_id, capsys, *extra):
    code = main(["--project", str(project.root), "eval", run_id, "--json", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_eval_json_is_the_exact_interface(ticket_project, scripted, capsys) -> None:
    scripted.answer = staticmethod(_tuned_knows_labels)
    run_id = make_finished_run(ticket_project)
    out = _eval_json(ticket_project, run_id, capsys)
    assert set(out) == EXACT_KEYS
    assert out["run_id"] == run_id and out["split"] == "val" and out["examples"] == 6
    assert out["judge"] is None
    assert out["rules"] is None  # the project names no task rules
    assert out["human"] is None  # nobody reviewed the answers blind
    assert set(out["metrics"]) == {"baseline", "tuned"}
    assert out["metrics"]["tuned"]["accuracy"] == 1.0
    # The base model is right on the 2 "question" tickets of 6.
    assert out["metrics"]["baseline"]["accuracy"] == round(2 / 6, 4)
    assert out["verdict"].startswith("tuned beats the zero-shot prompt: accuracy (label extracted) 1.00 vs 0.33")
    assert (ticket_project.run_dir(run_id) / "eval" / "result.json").is_file()


def test_eval_json_compares_the_primary_metric_with_the_baseline_to_beat(ticket_project, scripted, capsys) -> None:
    scripted.answer = staticmethod(_tuned_knows_labels)
    out = _eval_json(ticket_project, make_finished_run(ticket_project), capsys)
    comparison = out["comparison"]
    assert list(comparison) == ["metric", "baseline_variant", "baseline", "tuned", "difference", "ci95"]
    assert (comparison["metric"], comparison["baseline_variant"]) == ("accuracy", "zero-shot")
    assert (comparison["baseline"], comparison["tuned"], comparison["difference"]) == (round(2 / 6, 4), 1.0, round(4 / 6, 4))
    low, high = comparison["ci95"]
    assert 0 < low <= comparison["difference"] <= high
    # A backend that cannot tell why an answer ended says so, rather than guessing.
    assert out["stopped_on_their_own"] == {"baseline": None, "tuned": None, "total": 6}


def test_a_position_biased_judge_cannot_make_the_tuned_model_win(ticket_project, scripted, capsys) -> None:
    scripted.answer = staticmethod(_tuned_knows_labels)
    run_id = make_finished_run(ticket_project)
    out = _eval_json(ticket_project, run_id, capsys, "--judge", "scripted:judge-model")
    judge = out["judge"]
    assert set(judge) == {"model", "wins", "ties", "losses", "win_rate", "ci95"}
    assert (judge["wins"], judge["ties"], judge["losses"]) == (0, 6, 0)
    assert judge["ci95"] == [0.5, 0.5]
    assert out["verdict"].startswith("no clear difference: keep the prompt")


def test_second_eval_reuses_saved_answers(ticket_project, scripted, capsys) -> None:
    scripted.answer = staticmethod(_tuned_knows_labels)
    run_id = make_finished_run(ticket_project)
    evaluate_run(ticket_project, run_id, forgetting=False)
    asked = len(scripted.calls)
    evaluate_run(ticket_project, run_id, judge="scripted:judge-model", forgetting=False)
    new_calls = scripted.calls[asked:]
    assert len(new_calls) == 1, "only the judge is asked the second time"
    assert new_calls[0][0].base_model == "judge-model"


def test_eval_saves_differences_and_the_forgetting_check(ticket_project, scripted) -> None:
    scripted.answer = staticmethod(_tuned_knows_labels)
    run_id = make_finished_run(ticket_project)
    result = evaluate_run(ticket_project, run_id)
    saved = json.loads((ticket_project.run_dir(run_id) / "eval" / "result.json").read_text())
    assert saved["baseline_variant"] == "zero-shot"
    assert set(saved["variants"]) == {"zero-shot", "system", "3-shot"}
    # 4 of 6 tickets differ; the largest gaps come first and identical answers are left out.
    assert [row["gap"] for row in saved["differing"]] == [1.0] * 4
    assert {row["tuned"] for row in saved["differing"]} == {"billing", "bug"}
    forgetting = saved["forgetting"]
    assert forgetting["checked"] == 5
    assert forgetting["base_correct"] == 3  # Paris, 42, Buenos dias
    assert forgetting["tuned_correct"] == 1  # only Paris: it forgot
    assert result.forgetting is not None


def test_eval_of_an_unfinished_run_says_so(ticket_project, scripted, capsys) -> None:
    from backends.runs import RunFolder

    run_id = make_finished_run(ticket_project)
    RunFolder(ticket_project.run_dir(run_id)).write_status(status="running", model_ref=None)
    code = main(["--project", str(ticket_project.root), "eval", run_id])
    err = capsys.readouterr().err
    assert code == 2
    assert f"Run {run_id} has no trained model yet (status: running)" in err
    assert "Traceback" not in err


def test_eval_of_an_unknown_run_names_it(ticket_project, capsys) -> None:
    code = main(["--project", str(ticket_project.root), "eval", "nope"])
    err = capsys.readouterr().err
    assert code == 2 and "No run named 'nope'" in err


def test_bad_judge_spec_fails_before_any_model_is_asked(ticket_project, scripted, capsys) -> None:
    run_id = make_finished_run(ticket_project)
    for spec, message in (("gpt-4o", "is not BACKEND:MODEL"), ("opnai:gpt-4o", "no backend named 'opnai'")):
        code = main(["--project", str(ticket_project.root), "eval", run_id, "--judge", spec])
        assert code == 2 and message in capsys.readouterr().err
    assert scripted.calls == []


def test_a_val_example_without_an_answer_is_named(ticket_project, scripted, capsys) -> None:
    run_id = make_finished_run(ticket_project)
    with ticket_project.val_file.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": " "}]}) + "\n")
    code = main(["--project", str(ticket_project.root), "eval", run_id])
    err = capsys.readouterr().err
    assert code == 1 and "val.jsonl: line 7 has no reference answer" in err and "Traceback" not in err


def test_the_judge_gives_a_reason_that_is_saved_for_each_example(ticket_project, scripted, capsys) -> None:
    def reasoning_judge(model, conversation):
        if conversation[0]["content"].startswith("You are a strict, impartial evaluator"):
            assert "reason in one sentence" in conversation[-1]["content"]
            return "A names the right label; B does not.\nWinner: A"
        return _tuned_knows_labels(model, conversation)

    scripted.answer = staticmethod(reasoning_judge)
    run_id = make_finished_run(ticket_project)
    _eval_json(ticket_project, run_id, capsys, "--judge", "scripted:judge-model")
    saved = json.loads((ticket_project.run_dir(run_id) / "eval" / "result.json").read_text())
    assert saved["judge_detail"]["reasons"] == ["A names the right label; B does not"] * 6
    assert all(row["judge_reason"] == "A names the right label; B does not" for row in saved["differing"])


def test_no_judge_asks_no_judge_even_when_the_project_names_one(ticket_project, scripted, capsys) -> None:
    """The headless demo evaluates with --no-judge: a project's hosted judge must cost nothing."""
    scripted.answer = staticmethod(_tuned_knows_labels)
    settings = ticket_project.settings()
    settings.models.judge = "scripted:judge-model"
    ticket_project.save_settings(settings)
    out = _eval_json(ticket_project, make_finished_run(ticket_project), capsys, "--no-judge")
    assert out["judge"] is None
    assert not any(conversation[0]["content"].startswith("You are a strict, impartial evaluator")
                   for _, conversations in scripted.calls for conversation in conversations)  # fmt: skip
    assert out["verdict"].startswith("tuned beats the zero-shot prompt")
