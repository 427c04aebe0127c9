"""Keys come from the environment or the keyring, and never reach a file, an event or an error."""

from __future__ import annotations

import logging

import pytest

from tuneui.core.backend import BackendError
from backends.openai_ft import OpenAIBackend
from backends.together_ft import TogetherBackend
from tests.hosted.conftest import follow, make_spec
from tuneui.core import secrets


def _files_containing(root, needle: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def test_the_environment_wins_over_the_keyring(monkeypatch) -> None:
    monkeypatch.setattr(secrets, "_from_keyring", lambda name: "sk-from-keyring-000000000")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0000000000")
    assert secrets.api_key("OPENAI_API_KEY") == "sk-from-env-0000000000"
    monkeypatch.delenv("OPENAI_API_KEY")
    assert secrets.api_key("OPENAI_API_KEY") == "sk-from-keyring-000000000"


def test_a_broken_keyring_reads_as_no_key(monkeypatch) -> None:
    import keyring

    def broken(service: str, name: str) -> str:
        raise RuntimeError("No recommended backend was available")

    monkeypatch.setattr(keyring, "get_password", broken)
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    assert secrets.api_key("TOGETHER_API_KEY") is None


def test_redact_hides_loaded_keys_and_key_shaped_text(monkeypatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "tgp_v1_abcdefghijklmnop")
    secrets.api_key("TOGETHER_API_KEY")
    text = secrets.redact("key tgp_v1_abcdefghijklmnop, header Bearer abc.def.ghi.jkl, openai sk-proj-1234567890abcd")
    assert "tgp_v1_abcdefghijklmnop" not in text and "abc.def.ghi.jkl" not in text and "sk-proj-1234567890abcd" not in text
    assert text.count(secrets.REDACTED) == 3


def test_after_full_runs_the_key_is_nowhere_on_disk_or_in_logs(fake_openai, fake_together, project, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    openai_backend = OpenAIBackend(project)
    follow(openai_backend, openai_backend.start(make_spec(project, "openai")))
    together = TogetherBackend(project)
    follow(together, together.start(make_spec(project, "together", model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference")))

    for key in (fake_openai.api_key, fake_together.api_key):
        assert _files_containing(project.root, key) == []
        assert key not in caplog.text


def test_a_rejected_key_echoed_by_the_server_is_redacted_everywhere(fake_openai, project, monkeypatch) -> None:
    wrong = "sk-wrong-0123456789abcdefghij"
    monkeypatch.setenv("OPENAI_API_KEY", wrong)
    backend = OpenAIBackend(project)
    readiness = backend.check("gpt-4o-mini")
    assert not readiness.ok and all(wrong not in reason for reason in readiness.reasons)
    with pytest.raises(BackendError) as caught:
        backend.start(make_spec(project, "openai"))
    assert wrong not in str(caught.value) and "Incorrect API key" in str(caught.value)
    assert _files_containing(project.root, wrong) == []


def _on_fireworks(server, project, monkeypatch, key: str) -> None:
    from tests.hosted.fake_fireworks import ACCOUNT

    monkeypatch.setenv("FIREWORKS_API_KEY", key)
    monkeypatch.setenv("TUNEUI_POLL_SECONDS", "0.01")
    settings = project.settings()
    settings.fireworks.account_id, settings.fireworks.base_url = ACCOUNT, server.root_url
    project.save_settings(settings)


@pytest.mark.integration
def test_after_a_full_fireworks_run_its_key_is_nowhere_on_disk_or_in_logs(project, caplog, monkeypatch) -> None:
    from tuneui.core.providers import get_backend
    from tests.hosted.fake_fireworks import FakeFireworks

    caplog.set_level(logging.DEBUG)
    with FakeFireworks() as server:
        _on_fireworks(server, project, monkeypatch, server.api_key)
        backend = get_backend("fireworks", project)
        run_id = backend.start(make_spec(project, "fireworks", model="accounts/fireworks/models/llama-v3p1-8b-instruct"))
        assert follow(backend, run_id).status == "succeeded"
        backend.generate(backend.result(run_id), [[{"role": "user", "content": "hi"}]])
    assert _files_containing(project.root, server.api_key) == [] and server.api_key not in caplog.text
    # The storage host never saw it: signed URLs carry their own credential.
    assert all("authorization" not in r.headers for r in server.storage.requests)


@pytest.mark.integration
def test_a_rejected_fireworks_key_echoed_by_the_server_is_redacted_everywhere(project, monkeypatch) -> None:
    from tuneui.core.providers import get_backend
    from tests.hosted.fake_fireworks import FakeFireworks

    wrong = "fw_WRONGkey0123456789abcdefghij"  # not key-shaped: only the keys tuneui loaded (and the registry names) catch it
    with FakeFireworks() as server:
        _on_fireworks(server, project, monkeypatch, wrong)
        with pytest.raises(BackendError) as caught:
            get_backend("fireworks", project).start(make_spec(project, "fireworks", model="accounts/fireworks/models/llama-v3p1-8b-instruct"))
    assert wrong not in str(caught.value) and "Incorrect API key" in str(caught.value)
    assert _files_containing(project.root, wrong) == []
