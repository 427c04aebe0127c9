"""Files that come into the workspace from outside are on disk before they get their final name."""

from __future__ import annotations

from pathlib import Path

import httpx

from backends.hosted import together_wire


def test_a_downloaded_adapter_is_fsynced_before_its_rename(tmp_path, monkeypatch):
    monkeypatch.setenv("TOGETHER_API_KEY", "test-key-not-real")
    http = together_wire.TogetherHTTP("http://127.0.0.1:9/v1", default_wait=1.0)
    archive = b"PK\x05\x06" + bytes(18)
    http.client = httpx.Client(
        base_url="http://127.0.0.1:9/v1/", transport=httpx.MockTransport(lambda request: httpx.Response(200, content=archive))
    )
    steps: list[str] = []
    real_fsync, real_replace = together_wire.os.fsync, Path.replace
    monkeypatch.setattr(together_wire.os, "fsync", lambda fd: (steps.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(Path, "replace", lambda self, target: (steps.append("rename"), real_replace(self, target))[1])
    target = tmp_path / "adapter.download"
    http.download("finetune/download", {"ft_id": "ft-1"}, target, max_bytes=1024)
    assert target.read_bytes() == archive
    assert steps == ["fsync", "rename"]
