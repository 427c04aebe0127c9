"""The third attack on numbers: every numeric setting and flag is finite and bounded, and the error
names it; deeply nested TOML is a named error (issue 24, findings 6 and 9)."""

from __future__ import annotations

import math
import time

import pytest

from tuneui.cli import main
from tuneui.core import settings as settings_module
from tuneui.core.settings import Settings, SettingsError, _schema


def _numeric_fields():
    for section, spec in _schema(Settings).items():
        if isinstance(spec.kind, type) and issubclass(spec.kind, settings_module._Section):
            for name, field_spec in _schema(spec.kind).items():
                if field_spec.kind in (int, float):
                    yield section, name, field_spec


NUMERIC = list(_numeric_fields())


def _toml_with(workspace, text: str) -> None:
    workspace.config_path.write_text(workspace.config_path.read_text() + "\n" + text + "\n", encoding="utf-8")


def _cli(workspace, capsys, *args) -> tuple[int, str]:
    code = main(["--project", str(workspace.root), *args])
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize("section, name", [(s, n) for s, n, spec in NUMERIC if spec.kind is float])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_every_float_setting_refuses_a_non_finite_number(section, name, value):
    with pytest.raises(SettingsError) as caught:
        Settings.from_dict({section: {name: value}})
    assert caught.value.key == f"{section}.{name}" and "finite" in caught.value.message


@pytest.mark.parametrize("section, name", [(s, n) for s, n, _ in NUMERIC])
def test_every_numeric_setting_has_an_upper_bound_named_in_its_error(section, name):
    spec = dict(_schema(dict(_schema(Settings))[section].kind))[name]
    assert any(bound in ("le", "lt") for bound, _ in spec.bounds), f"[{section}] {name} has no upper bound"
    huge = 10**30 if spec.kind is int else 1e30
    with pytest.raises(SettingsError) as caught:
        Settings.from_dict({section: {name: huge}})
    assert caught.value.key == f"{section}.{name}"
    assert "at most" in caught.value.message or "less than" in caught.value.message


@pytest.mark.parametrize(
    "text, key",
    [
        ("[local]\nlearning_rate = inf", "local.learning_rate"),
        ("[local]\ntime_budget_minutes = inf", "local.time_budget_minutes"),
        ("[local]\nbatch_size = 1000000000000000000", "local.batch_size"),
        ("[local]\nlora_r = 100000000000000000000", "local.lora_r"),
        ("[local]\nmeasured_mfu = nan", "local.measured_mfu"),
        ("[local]\nmeasured_mfu = -1", "local.measured_mfu"),
        ("[local]\nmeasured_mfu = 0", "local.measured_mfu"),
        ("[hosted]\npoll_seconds = inf", "hosted.poll_seconds"),
    ],
)
def test_the_cli_names_a_setting_out_of_bounds(workspace, capsys, text, key):
    workspace.config_path.write_text(text + "\n", encoding="utf-8")
    code, err = _cli(workspace, capsys, "data", "split")
    assert code == 2 and f"[{key}]" in err and "hint:" in err
    assert "failed unexpectedly" not in err


@pytest.mark.parametrize("nested", ["x = " + "[" * 2000 + "]" * 2000, "x = " + "{a = " * 2000 + "1" + "}" * 2000])
def test_deeply_nested_toml_is_a_named_error(workspace, capsys, nested):
    workspace.config_path.write_text(nested + "\n", encoding="utf-8")
    code, err = _cli(workspace, capsys, "data", "split")
    assert code == 2 and str(workspace.config_path) in err and "nested" in err
    assert "failed unexpectedly" not in err


def test_a_price_override_must_be_finite(workspace, capsys):
    _toml_with(workspace, '[prices."gpt-4o-mini-2024-07-18"]\ntrain_per_million = inf')
    (workspace.data_dir / "train.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n')
    code, err = _cli(workspace, capsys, "estimate", "--backend", "openai", "--model", "gpt-4o-mini-2024-07-18")
    assert code != 0 and "train_per_million" in err and "failed unexpectedly" not in err


@pytest.mark.parametrize(
    "args, flag",
    [
        (["train", "--batch-size", "100000000000"], "--batch-size"),
        (["train", "--lora-r", "100000000000000000000"], "--lora-r"),
        (["train", "--lora-alpha", "100000000000000000000"], "--lora-alpha"),
        (["train", "--max-length", "100000000000"], "--max-length"),
        (["train", "--steps", "100000000000000"], "--steps"),
        (["train", "--epochs", "100000000000000"], "--epochs"),
        (["train", "--save-every", "100000000000000"], "--save-every"),
        (["train", "--learning-rate", "1e20"], "--learning-rate"),
        (["estimate", "--epochs", "100000000000000"], "--epochs"),
        (["baseline", "--shots", "100000000000"], "--shots"),
        (["demo", "--headless", "--steps", "-5"], "--steps"),
        (["demo", "--headless", "--steps", "100000000000000"], "--steps"),
        (["data", "split", "--val", "nan"], "--val"),
        (["data", "split", "--val", "inf"], "--val"),
    ],
)
def test_every_numeric_flag_is_bounded_and_named(workspace, capsys, monkeypatch, tmp_path, args, flag):
    from tuneui import demo

    monkeypatch.chdir(tmp_path)  # `tuneui demo` would make ./tuneui-demo

    def started(*_, **__):
        raise AssertionError("the demo started with a bad --steps")

    monkeypatch.setattr(demo, "run_headless", started)
    monkeypatch.setattr(demo, "create_demo", started)
    try:
        code = main(["--project", str(workspace.root), *args])
    except SystemExit as exit:  # argparse's own refusal
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2 and flag in err and ("at most" in err or "between" in err or "at least" in err)
    assert "failed unexpectedly" not in err


def test_the_cpu_micro_batch_of_a_huge_batch_ends_at_once(monkeypatch):
    """Before: one RAM estimate per number from the batch size down to 1 (10**11 of them)."""
    from tuneui.core.cost import local as cost_local
    from tuneui.core.cost.memory import ModelShape

    calls = []
    real = cost_local.cpu_memory

    def counted(*args, **kwargs):
        calls.append(1)
        if len(calls) > 10_000:
            raise AssertionError("cpu_micro_batch walks every number below the batch size")
        return real(*args, **kwargs)

    monkeypatch.setattr(cost_local, "cpu_memory", counted)
    shape = ModelShape(hidden=576, layers=30, intermediate=1536, vocab=49152, q_dim=576, kv_dim=192, tied_embeddings=True)
    started = time.monotonic()
    micro = cost_local.cpu_micro_batch(shape, 10**11, 512, 8, 0.05)
    assert time.monotonic() - started < 5 and 10**11 % micro == 0
    assert cost_local.cpu_micro_batch(shape, 12, 512, 8, 0.05) in (1, 2, 3, 4, 6, 12)


@pytest.mark.parametrize("raw", ["inf", "nan", "-1", "0", "1e12"])
def test_the_poll_interval_from_the_environment_is_bounded(monkeypatch, raw):
    from tuneui.core.backend import BackendError
    from backends.hosted.base import poll_seconds_for

    monkeypatch.setenv("TUNEUI_POLL_SECONDS", raw)
    with pytest.raises(BackendError) as caught:
        poll_seconds_for(None)
    assert "TUNEUI_POLL_SECONDS" in caught.value.title and "at most 3600" in caught.value.hint
