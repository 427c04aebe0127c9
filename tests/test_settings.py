"""tuneui.toml as a person writes it: every mistake is an error naming the key; a saved file reads back the same."""

from __future__ import annotations

from dataclasses import fields

import pytest

from tuneui.core.settings import LocalSettings, Settings, SettingsError
from tuneui.core.workspace import init_workspace
from tuneui.errors import WorkspaceError


def _error_of(toml: str, tmp_path) -> str:
    workspace = init_workspace(tmp_path / "project")
    workspace.config_path.write_text(toml, encoding="utf-8")
    with pytest.raises(WorkspaceError) as caught:
        workspace.settings()
    assert caught.value.hint  # every error says how to fix it
    return caught.value.title


@pytest.mark.parametrize(
    ("toml", "key", "words"),
    [
        ('[local]\nlora_r = "sixteen"\n', "local.lora_r", "whole number"),
        ("[local]\nlora_r = 1.5\n", "local.lora_r", "whole number"),
        ("[project]\nname = 3\n", "project.name", "text"),
        ("[data]\nseed = true\n", "data.seed", "whole number"),
        ("[data]\nval_fraction = 1\n", "data.val_fraction", "less than 1"),
        ("[data]\nval_fraction = 0.0\n", "data.val_fraction", "greater than 0"),
        ("[local]\ngpu_hour_usd = -2.5\n", "local.gpu_hour_usd", "at least 0"),
        ('[models]\nhosted_backend = "anthropic"\n', "models.hosted_backend", "'openai', 'together', 'azure', 'fireworks'"),
        ('[project]\ntask_type = "regression"\n', "project.task_type", "'classification'"),
        ("[local]\nlora_rank = 8\n", "local.lora_rank", "unknown setting"),
        ("[trainer]\nepochs = 3\n", "trainer", "unknown setting"),
        ('data = "train.jsonl"\n', "data", "table"),
        ("[prices]\ngpt = 3\n", "prices.gpt", "table"),
        ('[azure.deployments]\n"gpt-4o-mini" = 3\n', 'azure.deployments."gpt-4o-mini"', "a name in quotes"),
        ('[azure.deployments]\n"gpt-4o-mini" = "my deployment"\n', 'azure.deployments."gpt-4o-mini"', "'-', '_'"),
        ('[azure]\ndeployments = "mini"\n', "azure.deployments", "table"),
        ('[azure]\ndeployment_sku = "Premium"\n', "azure.deployment_sku", "'GlobalStandard'"),
    ],
)
def test_a_bad_value_is_an_error_naming_its_key(tmp_path, toml: str, key: str, words: str) -> None:
    title = _error_of(toml, tmp_path)
    assert title.startswith(f"{tmp_path / 'project' / 'tuneui.toml'}: [{key}] ")
    assert words in title


def test_a_file_written_by_hand_reads_with_defaults_for_the_rest(tmp_path) -> None:
    workspace = init_workspace(tmp_path / "project")
    workspace.config_path.write_text(
        '[project]\nname = "tickets"\n[local]\nlearning_rate = 1\n[prices."acme/model"]\ninput_per_mtok = 0.5\n', encoding="utf-8"
    )
    settings = workspace.settings()
    assert settings.project.name == "tickets" and settings.project.task_type == "auto"
    assert settings.local.learning_rate == 1.0 and isinstance(settings.local.learning_rate, float)
    # unset knobs stay unset: the defaults rule (docs/local.md) fills them for each run
    assert settings.local.lora_r is None and settings.local.measured_mfu is None
    assert settings.prices == {"acme/model": {"input_per_mtok": 0.5}}


def test_saved_settings_read_back_equal_and_the_file_keeps_its_shape(tmp_path) -> None:
    workspace = init_workspace(tmp_path / "project")
    settings = workspace.settings()
    settings.project.name = "support"
    settings.models.hosted_backend = "together"
    settings.local.measured_mfu = 0.31
    settings.hosted.poll_seconds = 7
    settings.prices["acme/model"] = {"input_per_mtok": 0.5}
    workspace.save_settings(settings)
    again = workspace.settings()
    assert again == settings
    assert again.to_dict() == settings.to_dict()
    text = workspace.config_path.read_text(encoding="utf-8")
    assert '[project]\nname = "support"' in text and "poll_seconds = 7.0" in text and '[prices."acme/model"]' in text


def test_an_unset_optional_value_is_left_out_of_the_file(tmp_path) -> None:
    workspace = init_workspace(tmp_path / "project")
    assert "measured_mfu" not in workspace.config_path.read_text(encoding="utf-8")
    assert "measured_mfu" not in Settings().to_dict()["local"]


def test_assignment_in_code_is_checked_like_the_file() -> None:
    settings = Settings()
    with pytest.raises(SettingsError) as caught:
        settings.local.lora_r = 0
    assert caught.value.key == "local.lora_r"
    with pytest.raises(SettingsError):
        settings.models.hosted_backend = "anthropic"
    with pytest.raises(AttributeError, match="lora_rank"):
        settings.local.lora_rank = 8
    assert settings.local.lora_r is None and settings.models.hosted_backend == ""  # "" = chosen by date


def test_from_dict_does_not_share_tables_with_its_input() -> None:
    raw = {"prices": {"acme/model": {"input_per_mtok": 0.5}}}
    settings = Settings.from_dict(raw)
    settings.prices["acme/model"]["input_per_mtok"] = 9.0
    assert raw["prices"]["acme/model"]["input_per_mtok"] == 0.5


def test_every_setting_is_documented() -> None:
    settings = Settings()
    tables = [item for item in fields(Settings) if isinstance(getattr(settings, item.name), dict)]  # prices, rules
    sections = [type(getattr(settings, item.name)) for item in fields(Settings) if item not in tables]
    assert LocalSettings in sections and {t.name for t in tables} == {"prices", "rules"}
    for section in sections:
        for item in fields(section):
            assert item.metadata["description"], f"{section.__name__}.{item.name}"
    assert all(t.metadata["description"] for t in tables)
