"""A provider is a plug-in: a module and one registry row, both made here, and `tuneui estimate`,
`tuneui train`, the settings and the key redaction all see it, with no core module changed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tuneui.core import providers as registry
from tuneui.core.backend import Backend, Estimate, Event, JobStatus, ModelRef, Readiness
from backends.runs import RunFolder
from tuneui.cli import main
from tuneui.core.settings import Section, Settings, SettingsError, setting

PRICES = """
[providers.dummy]
default_epochs = 2
source = "https://dummy.example/pricing"
as_of = 2026-12-01

[models."dummy-7b"]
provider = "dummy"
train_per_million = 4.00
source = "https://dummy.example/pricing"
as_of = 2026-12-01
"""

MODULE = '''
from dataclasses import dataclass

from tuneui.core.providers import Provider
from tuneui.core.settings import Section, setting


@dataclass
class DummySettings(Section):
    region: str = setting("eu", "Where the dummy trains.")
    max_dollars: float = setting(10.0, "Spend at most this.", ge=0)


PROVIDER = Provider(
    name="dummy",
    title="Dummy Cloud",
    backend="tests.test_provider_plugin:DummyBackend",
    keys=("DUMMY_API_KEY",),
    settings={"dummy": DummySettings},
    prices="dummy_provider_plugin:prices.toml",
    model_prefixes=("dummy-",),
    default_model="dummy-7b",
)
'''


class DummyBackend(Backend):
    """Trains instantly: enough to see that `tuneui train` reached it, with its own settings."""

    name = "dummy"
    hosted = True

    def __init__(self, workspace: Any) -> None:
        self.workspace = workspace

    def check(self, model: str | None = None) -> Readiness:
        return Readiness(True)

    def estimate(self, spec: Any, stats: Any) -> Estimate:
        return Estimate(self.name, spec.model)

    def start(self, spec: Any) -> str:
        folder = RunFolder.create(self.workspace.runs_dir, spec)
        region = self.workspace.settings().dummy.region
        folder.append_events([Event("log", {"level": "info", "message": f"trained in {region}"}, time.time())])
        folder.write_status(job_id=f"dummy-{region}", status="succeeded", follow_done=True,
                            model_ref=ModelRef(self.name, spec.model, "hosted", model_id="dummy-7b:tuned").to_dict())
        return folder.run_id

    def events(self, run_id: str, after: int = 0) -> list[Event]:
        return RunFolder.open(self.workspace.runs_dir, run_id).read_events(after)

    def status(self, run_id: str) -> JobStatus:
        return RunFolder.open(self.workspace.runs_dir, run_id).job_status()

    def cancel(self, run_id: str) -> None:
        pass

    def result(self, run_id: str) -> ModelRef:
        return RunFolder.open(self.workspace.runs_dir, run_id).model_ref()

    def generate(self, model: Any, conversations: Any, params: Any = None) -> list[str]:
        return ["dummy"] * len(conversations)


@pytest.fixture
def dummy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider's own module (with its price rows) and its one registry row."""
    package = tmp_path / "plugins" / "dummy_provider_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(MODULE)
    (package / "prices.toml").write_text(PRICES)
    monkeypatch.syspath_prepend(str(tmp_path / "plugins"))
    monkeypatch.setitem(registry.table(), "dummy", "dummy_provider_plugin:PROVIDER")


@pytest.fixture
def project(workspace: Any) -> Any:
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]} for i in range(12)]
    workspace.data_dir.mkdir(parents=True, exist_ok=True)
    workspace.train_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return workspace


def test_settings_read_check_and_write_the_providers_own_section(dummy: None) -> None:
    settings = Settings.from_dict({"dummy": {"region": "us"}, "models": {"hosted_backend": "dummy"}})
    assert settings.dummy.region == "us" and settings.models.hosted_backend == "dummy"
    assert settings.to_dict()["dummy"] == {"region": "us", "max_dollars": 10.0}
    with pytest.raises(SettingsError) as caught:
        Settings.from_dict({"dummy": {"max_dollars": -1}})
    assert caught.value.key == "dummy.max_dollars"
    with pytest.raises(SettingsError) as caught:
        Settings.from_dict({"dummy": {"regoin": "us"}})
    assert caught.value.key == "dummy.regoin"


def test_without_its_row_the_section_is_unknown() -> None:
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings.from_dict({"dummy": {"region": "us"}})
    with pytest.raises(SettingsError, match="'dummy'"):
        Settings.from_dict({"models": {"hosted_backend": "dummy"}})


def test_estimate_bills_it_by_its_own_price_rows(dummy: None, project: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--project", str(project.root), "estimate", "--backend", "dummy", "--model", "dummy-7b", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["backend"] == "dummy" and out["epochs"] == 2
    assert out["price_per_million"] == 4.0 and out["price_as_of"] == "2026-12-01"
    assert out["cost_usd"] == pytest.approx(out["billed_tokens"] * 4.0 / 1e6, abs=0.01)
    # Its model prefix alone finds it too.
    assert main(["--project", str(project.root), "estimate", "--model", "dummy-7b", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["backend"] == "dummy"


def test_train_starts_it_with_its_settings(dummy: None, project: Any, capsys: pytest.CaptureFixture[str]) -> None:
    settings = project.settings()
    settings.dummy.region = "mars"
    settings.models.hosted_backend = "dummy"
    project.save_settings(settings)
    code = main(["--project", str(project.root), "train", "--wait", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["backend"] == "dummy" and out["status"] == "succeeded"
    assert out["job_id"] == "dummy-mars" and out["model_ref"] == "dummy-7b:tuned"


def test_its_key_is_redacted(dummy: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from tuneui.core.secrets import redact

    monkeypatch.setenv("DUMMY_API_KEY", "plain-words-no-key-shape")
    assert "plain-words" not in redact("the provider said plain-words-no-key-shape")
