"""`tuneui export` on bad input: a clear message, a non-zero exit, and nothing half-written.

All of these stop before the export worker would start, so no process and no torch here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneui.core.backend import ModelRef
from backends.runs import RunFolder
from tests.evaluate.evalkit import TICKETS, make_finished_run, write_split
from tuneui.cli import main
from tuneui.steps.export import build, memory


@pytest.fixture
def project(workspace, monkeypatch):
    write_split(workspace, TICKETS[:6], TICKETS[6:])
    monkeypatch.setattr(build, "converter_installed", lambda: True)  # these stop before it would run
    return workspace


def _export(project, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["--project", str(project.root), "export", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _nothing_written(project) -> bool:
    exports = project.root / "exports"
    return not exports.exists() or not any(exports.iterdir())


def _local_run(project, base: Path) -> str:
    """A succeeded local run whose adapter folder and base model folder look real (headers only)."""
    base.mkdir(parents=True, exist_ok=True)
    header = json.dumps({"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4_000_000]}}).encode()
    (base / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    run_id = make_finished_run(project, backend="local", base_model=str(base))
    folder = RunFolder(project.run_dir(run_id))
    folder.adapter_dir.mkdir(parents=True, exist_ok=True)
    (folder.adapter_dir / "adapter_config.json").write_text('{"r": 8}', encoding="utf-8")
    return run_id


@pytest.mark.parametrize("status", ["failed", "cancelled", "running"])
def test_a_run_without_a_tuned_model_is_refused(project, capsys, status) -> None:
    run_id = make_finished_run(project, backend="local")
    RunFolder(project.run_dir(run_id)).write_status(status=status)
    code, out, err = _export(project, capsys, run_id)
    assert code == 2 and out == ""
    assert f"error: Run {run_id} is {status}: it has no tuned model to export" in err
    assert "hint:" in err and "Traceback" not in err
    assert _nothing_written(project)


def test_a_run_whose_adapter_was_removed_is_refused(project, capsys, tmp_path) -> None:
    run_id = _local_run(project, tmp_path / "base")
    (RunFolder(project.run_dir(run_id)).adapter_dir / "adapter_config.json").unlink()
    code, _, err = _export(project, capsys, run_id)
    assert code == 2 and "adapter is missing" in err and "adapter_config.json" in err
    assert _nothing_written(project)


@pytest.mark.parametrize("name", ["nope", "../..", "..", ".hidden", "a/b", "x\x1b[31m"])
def test_an_unknown_run_or_a_path_out_of_runs_is_refused(project, capsys, name) -> None:
    code, _, err = _export(project, capsys, name)
    assert code == 2 and "There is no run" in err and "tuneui runs" in err
    assert "\x1b" not in err
    assert _nothing_written(project)


def test_an_existing_export_is_refused_and_kept(project, capsys, tmp_path) -> None:
    run_id = _local_run(project, tmp_path / "base")
    kept = project.root / "exports" / run_id
    kept.mkdir(parents=True)
    (kept / "README.md").write_text("mine", encoding="utf-8")
    code, _, err = _export(project, capsys, run_id)
    assert code == 2 and "already exists" in err and f"tuneui export {run_id} --force" in err
    assert (kept / "README.md").read_text(encoding="utf-8") == "mine"


def test_too_little_memory_to_merge_is_refused_before_anything_loads(project, capsys, tmp_path, monkeypatch) -> None:
    run_id = _local_run(project, tmp_path / "base")  # 1 M parameters: about 5 MB to merge in fp32
    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000)
    started = []
    monkeypatch.setattr(build, "_run_worker", lambda *args: started.append(args))
    code, _, err = _export(project, capsys, run_id)
    assert code == 2 and "Too little memory to merge: it needs about" in err
    assert "4-bit" in err and "--enable-lora" in err  # not merged into a 4-bit base; the adapter still serves
    assert started == [] and _nothing_written(project)


def test_a_full_disk_is_refused_before_anything_is_written(project, capsys, tmp_path, monkeypatch) -> None:
    run_id = _local_run(project, tmp_path / "base")
    monkeypatch.setattr(memory, "free_disk", lambda folder: 1000)
    code, _, err = _export(project, capsys, run_id)
    assert code == 2 and "Too little disk space for the export" in err and "--format merged" in err
    assert _nothing_written(project)


def test_a_disk_that_fills_up_midway_leaves_nothing_half_written(project, capsys, tmp_path, monkeypatch) -> None:
    run_id = _local_run(project, tmp_path / "base")

    def worker_fills_the_disk(*args, **kwargs):
        (args[4] / "merged").mkdir()
        (args[4] / "merged" / "model.safetensors").write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build, "_run_worker", worker_fills_the_disk)
    code, _, err = _export(project, capsys, run_id)
    assert code == 2 and "No space left on device" in err and "nothing was left half-written" in err
    assert _nothing_written(project)


def test_force_replaces_an_export_only_once_the_new_one_is_complete(project, capsys, tmp_path, monkeypatch) -> None:
    run_id = _local_run(project, tmp_path / "base")
    old = project.root / "exports" / run_id
    old.mkdir(parents=True)
    (old / "README.md").write_text("old", encoding="utf-8")
    monkeypatch.setattr(build, "_run_worker", lambda *args: (_ for _ in ()).throw(build.TuneError("The converter broke", "try again")))
    code, _, err = _export(project, capsys, run_id, "--force")
    assert code == 2 and "The converter broke" in err
    assert (old / "README.md").read_text(encoding="utf-8") == "old"  # the old export is untouched
    assert sorted(p.name for p in old.parent.iterdir()) == [run_id]  # and no partial folder is left


def test_an_unknown_format_is_named(project, capsys) -> None:
    code, _, err = _export(project, capsys, "x", "--format", "merged,onnx")
    assert code == 2 and "unknown format onnx" in err and "merged, gguf" in err


def test_a_hosted_run_exports_its_model_id_and_a_ready_call(project, capsys) -> None:
    settings = project.settings()
    settings.project.system_prompt = "Reply with the label only."
    project.save_settings(settings)
    run_id = make_finished_run(project, backend="together")
    ref = ModelRef(backend="together", base_model="meta-llama/Llama-3.2-1B-Instruct", kind="hosted", model_id="me/Llama-3.2-1B-ft-abc")
    RunFolder(project.run_dir(run_id)).write_status(model_ref=ref.to_dict())
    code, out, err = _export(project, capsys, run_id, "--json")
    assert code == 0, err
    result = json.loads(out)
    hosted = result["hosted"]
    assert hosted["model_id"] == "me/Llama-3.2-1B-ft-abc"
    assert "base_url='https://api.together.xyz/v1'" in hosted["python"] and "model='me/Llama-3.2-1B-ft-abc'" in hosted["python"]
    compile(hosted["python"], "call.py", "exec")  # ready to run: at least valid Python
    card = (project.root / "exports" / run_id / "README.md").read_text(encoding="utf-8")
    assert "Hosted by together as `me/Llama-3.2-1B-ft-abc`" in card and "## Data" in card


def test_memory_is_counted_from_the_safetensors_headers(tmp_path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    for name, shape in (("a.safetensors", [10, 20]), ("b.safetensors", [5])):
        header = json.dumps({"__metadata__": {}, "t": {"dtype": "BF16", "shape": shape, "data_offsets": [0, 0]}}).encode()
        (base / name).write_bytes(len(header).to_bytes(8, "little") + header)
    assert memory.parameter_count(base) == 205


def test_without_the_converter_a_gguf_export_is_refused_before_the_merge(project, capsys, tmp_path, monkeypatch) -> None:
    run_id = _local_run(project, tmp_path / "base")
    monkeypatch.setattr(build, "converter_installed", lambda: False)
    code, _, err = _export(project, capsys, run_id)
    assert code == 2 and "llama.cpp's GGUF converter is not installed" in err
    assert "tuneui[export]" in err and "--format merged" in err
    assert _nothing_written(project)


def test_a_base_stored_in_4_bit_is_never_merged_into(project, capsys, tmp_path) -> None:
    run_id = _local_run(project, tmp_path / "base")
    config = {"architectures": ["LlamaForCausalLM"], "quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": True}}
    (tmp_path / "base" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    code, _, err = _export(project, capsys, run_id)
    assert code == 2 and "is stored quantized (bitsandbytes)" in err and "16-bit original" in err
    assert _nothing_written(project)


def _together_run_with_adapter(project, base_name: str) -> str:
    run_id = make_finished_run(project, backend="together")
    folder = RunFolder(project.run_dir(run_id))
    folder.adapter_dir.mkdir(parents=True, exist_ok=True)
    (folder.adapter_dir / "adapter_config.json").write_text(json.dumps({"r": 8, "base_model_name_or_path": base_name}), encoding="utf-8")
    ref = ModelRef(backend="together", base_model="Llama-3.2-1B-Instruct-Reference", kind="hosted", path=str(folder.adapter_dir), model_id="me/ft-1")
    folder.write_status(model_ref=ref.to_dict())
    return run_id


def test_a_downloaded_together_adapter_exports_like_a_local_one(project, capsys, tmp_path, monkeypatch) -> None:
    base = tmp_path / "base"
    _local_run(project, base)  # writes a base folder with a safetensors header
    run_id = _together_run_with_adapter(project, str(base))
    merged_from = []

    def worker(workspace, ref, *rest):
        merged_from.append((ref.base_model, ref.kind))
        raise build.TuneError("stop here", "")

    monkeypatch.setattr(build, "_run_worker", worker)
    code, _, err = _export(project, capsys, run_id)
    assert merged_from == [(str(base), "adapter")] and "stop here" in err


def test_a_downloaded_adapter_whose_base_is_not_here_exports_the_hosted_call_and_says_why(project, capsys) -> None:
    run_id = _together_run_with_adapter(project, "example-org/not-downloaded-model")
    code, out, err = _export(project, capsys, run_id, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["hosted"]["model_id"] == "me/ft-1" and result["files"] == ["README.md"]
    assert "its base model example-org/not-downloaded-model is not on this machine" in result["notes"][0]


def test_the_adapter_answers_an_evaluation_saved_are_reused_only_for_the_same_prompts_and_settings(project, tmp_path) -> None:
    from dataclasses import asdict

    from tuneui.core.evalset import load_eval_set
    from tuneui.core.files import atomic_write_json

    run_id = _local_run(project, tmp_path / "base")
    folder = RunFolder(project.run_dir(run_id))
    ref, data = folder.model_ref(), load_eval_set(project)
    params = data.generation_params(seed=project.settings().data.seed)  # what `tuneui eval` uses
    saved = json.loads(json.dumps({"model": ref.to_dict(), "val_sha256": data.fingerprint, "params": asdict(params)}))
    answers = {"predictions": ["billing"] * 6, "ended": [True] * 6}
    atomic_write_json(folder.eval_dir / "predictions.json", {**saved, **answers})
    assert build._evaluation_answers(folder, ref, data, params) == {"answers": ["billing"] * 6, "ended": [True] * 6}
    other = data.generation_params(seed=project.settings().data.seed + 1)
    assert build._evaluation_answers(folder, ref, data, other) is None  # other settings: answered again
    atomic_write_json(folder.eval_dir / "predictions.json", {**saved, **answers, "val_sha256": "0" * 64})
    assert build._evaluation_answers(folder, ref, data, params) is None  # other prompts


def test_force_swaps_in_the_new_export_and_leaves_no_old_or_partial_folder(project, capsys, tmp_path, monkeypatch) -> None:
    run_id = _local_run(project, tmp_path / "base")
    old = project.root / "exports" / run_id
    (old / "merged").mkdir(parents=True)
    (old / "Modelfile").write_text("FROM ./old.gguf\n", encoding="utf-8")

    def worker(workspace, ref, spec, formats, build_dir, system_prompt, say):
        (build_dir / "merged").mkdir()
        (build_dir / "merged" / "model.safetensors").write_bytes(b"new")
        return {
            "answers": {"adapter": ["billing"], "merged": ["billing"]}, "ended": {"adapter": [True], "merged": [True]},
            "stop_ids": [2], "stop_tokens": ["<|im_end|>"], "device": "cpu", "dtype": "float32", "gguf": {}, "seconds": {},
        }  # fmt: skip

    monkeypatch.setattr(build, "_run_worker", worker)
    code, out, err = _export(project, capsys, run_id, "--format", "merged", "--force", "--json")
    assert code == 0, err
    merged_check = {"ok": True, "same": 1, "total": 1, "adapter_answers_from": "export", "proven_by_forcing": None}
    assert json.loads(out)["checks"] == {"merged_vs_adapter": merged_check}
    assert (old / "merged" / "model.safetensors").read_bytes() == b"new" and not (old / "Modelfile").exists()
    assert sorted(p.name for p in old.parent.iterdir()) == [run_id]


def test_the_model_card_shows_a_hostile_project_name_literally(project, capsys) -> None:
    settings = project.settings()
    settings.project.name = "<script>alert(1)</script>\x1b[31m"
    project.save_settings(settings)
    run_id = make_finished_run(project, backend="openai")
    ref = ModelRef(backend="openai", base_model="gpt-4o-mini-2024-07-18", kind="hosted", model_id="ft:gpt-4o-mini:me::abc")
    RunFolder(project.run_dir(run_id)).write_status(model_ref=ref.to_dict())
    code, _, err = _export(project, capsys, run_id)
    assert code == 0, err
    card = (project.root / "exports" / run_id / "README.md").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card and "<script>" not in card and "\x1b" not in card
