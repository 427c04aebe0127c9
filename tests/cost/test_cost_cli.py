"""`tuneui estimate`: the exact JSON shapes, the comparison of backends, and clear failures."""

from __future__ import annotations

import json

import pytest

from tuneui.cli import main
from tuneui.core import gpu
from tuneui.core.tokens import count_examples

SYSTEM = {"role": "system", "content": "You answer support tickets for Acme."}
QWEN_05B = {
    "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
    "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": True,
}  # fmt: skip


def _chat(i: int) -> list[dict]:
    return [SYSTEM, {"role": "user", "content": f"Where is order {i}?"}, {"role": "assistant", "content": f"Order {i} ships today."}]


@pytest.fixture
def project(workspace):
    train = [_chat(i) for i in range(20)]
    val = [_chat(100 + i) for i in range(4)]
    workspace.train_file.write_text("".join(json.dumps({"messages": m}) + "\n" for m in train))
    workspace.val_file.write_text("".join(json.dumps({"messages": m}) + "\n" for m in val))
    return workspace, train


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_openai_json_is_exact(project, capsys):
    workspace, train = project
    code, out, _ = _run(capsys, "--project", str(workspace.root), "estimate", "--backend", "openai", "--model", "gpt-4o-mini", "--json")
    data = json.loads(out)
    assert code == 0
    assert list(data) == [
        "backend", "model", "examples", "epochs", "tokens_per_epoch", "billed_tokens",
        "price_per_million", "price_as_of", "cost_usd", "eval_cost_usd", "warnings",
    ]  # fmt: skip
    tokens = sum(count_examples(train))
    assert (data["examples"], data["epochs"], data["tokens_per_epoch"]) == (20, 5, tokens)
    assert data["billed_tokens"] == tokens * 5
    assert data["cost_usd"] == pytest.approx(tokens * 5 * 3.0 / 1e6, abs=1e-6)
    assert data["eval_cost_usd"] > 0  # the default FILE brings data/val.jsonl along
    code, out, _ = _run(capsys, "--project", str(workspace.root), "estimate", str(workspace.train_file), "--model", "gpt-4o-mini", "--json")
    assert json.loads(out)["eval_cost_usd"] == data["eval_cost_usd"]
    other = workspace.root / "other.jsonl"
    other.write_bytes(workspace.train_file.read_bytes())
    code, out, _ = _run(capsys, "--project", str(workspace.root), "estimate", str(other), "--model", "gpt-4o-mini", "--json")
    assert json.loads(out)["eval_cost_usd"] is None


def test_local_json_is_exact(project, capsys, monkeypatch):
    workspace, _ = project
    folder = workspace.root / "qwen"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(QWEN_05B))
    monkeypatch.setattr(gpu, "find_gpus", lambda: [gpu.Gpu("NVIDIA L4", 22.5, 121.0)])
    code, out, _ = _run(capsys, "--project", str(workspace.root), "estimate", "--backend", "local", "--model", "qwen", "--json")
    data = json.loads(out)
    assert code == 0
    assert list(data) == ["backend", "model", "method", "memory_gib", "gpu", "fits", "hours", "cost_usd", "advice"]
    assert (data["backend"], data["method"], data["fits"]) == ("local", "lora", True)
    assert data["gpu"] == {"name": "NVIDIA L4", "memory_gib": 22.5}
    assert data["hours"] > 0 and data["cost_usd"] is None
    assert any("o200k_base" in line for line in data["advice"])  # no tokenizer in the folder


def test_comparison_of_configured_backends(project, capsys, monkeypatch):
    workspace, _ = project
    settings = workspace.settings()
    settings.models.local = "acme/not-downloaded"
    workspace.save_settings(settings)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(gpu, "find_gpus", lambda: [])
    code, out, _ = _run(capsys, "--project", str(workspace.root), "estimate", "--json")
    rows = json.loads(out)["estimates"]
    assert code == 0
    assert [row["backend"] for row in rows] == ["local", "openai"]
    assert "No config.json for model 'acme/not-downloaded'" in rows[0]["error"]
    assert rows[1]["cost_usd"] > 0
    code, out, _ = _run(capsys, "--project", str(workspace.root), "estimate")
    assert "cannot estimate: No config.json" in out and "prices as of 2026-11-23" in out


def test_price_override_from_tuneui_toml(project, capsys):
    workspace, _ = project
    settings = workspace.settings()
    settings.prices = {"gpt-4o-mini": {"train_per_million": 1.0}}
    workspace.save_settings(settings)
    code, out, _ = _run(capsys, "--project", str(workspace.root), "estimate", "--model", "gpt-4o-mini", "--json")
    data = json.loads(out)
    assert (data["backend"], data["price_per_million"], data["price_as_of"]) == ("openai", 1.0, "your tuneui.toml")


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["--backend", "openai", "--model", "gpt-5"], 2, "Unknown openai model 'gpt-5'"),
        (["--model", "gpt-5"], 2, "Unknown openai model 'gpt-5'"),
        (["--backend", "local", "--model", "acme/missing"], 2, "No config.json for model 'acme/missing'"),
        (["--backend", "openai", "--method", "qlora"], 2, "--method applies to the local backend only"),
        (["nowhere.jsonl", "--backend", "openai"], 2, "No training file at nowhere.jsonl"),
        (["--backend", "local", "--epochs", "0"], 2, "train for at least 1 epoch"),
    ],
)
def test_failures_are_clear_and_have_no_traceback(project, capsys, monkeypatch, argv, code, message):
    workspace, _ = project
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    got, out, err = _run(capsys, "--project", str(workspace.root), "estimate", *argv)
    assert got == code and message in err and "Traceback" not in err and out == ""


def test_bad_data_is_exit_1_with_the_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": _chat(1)}) + "\n{truncated\n")
    before = bad.read_bytes()
    got, _, err = _run(capsys, "--project", str(tmp_path), "estimate", str(bad), "--backend", "openai")
    assert got == 1 and f"{bad}:2" in err
    assert bad.read_bytes() == before


@pytest.mark.integration
def test_headless_comparison_saves_the_cost_step_like_the_guide(project, capsys, monkeypatch):
    """`tuneui estimate` on the project's split is the Cost step: reports/cost.json is written
    without the guide, and the guide's step writes the very same file."""
    from tuneui.guide.runner import StepRunner
    from tuneui.guide.state import observe

    workspace, _ = project
    saved = workspace.reports_dir / "cost.json"
    other = workspace.root / "other.jsonl"
    other.write_bytes(workspace.train_file.read_bytes())
    _run(capsys, "--project", str(workspace.root), "estimate", str(other), "--json")
    _run(capsys, "--project", str(workspace.root), "estimate", "--backend", "openai", "--json")
    assert not saved.exists()  # another file, or one backend, is not the project's Cost step

    code, out, _ = _run(capsys, "--project", str(workspace.root), "estimate", "--json")
    assert code == 0
    headless = json.loads(saved.read_text())
    assert headless == {"rows": json.loads(out)["estimates"]}
    assert observe(workspace).cost_saved

    saved.unlink()
    result = StepRunner(workspace).cost()
    assert result.ok, result.title
    assert json.loads(saved.read_text()) == headless == dict(result.data)
