"""Two tuneui torch processes on one CPU (issue 24, finding 16): while another one is busy, each
takes its share of the cores instead of torch's default (all of them), so no core runs two sets of
spinning OpenMP threads; alone, a process keeps every core. bench/cpu_sharing.py measures the
effect on real training steps (docs/benchmarks.md)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # imports torch

torch = None  # imported by the fixture below, never at collection: collecting the fast tier loads no torch


@pytest.fixture(autouse=True)
def _torch():
    global torch
    torch = pytest.importorskip("torch")


@pytest.fixture
def full_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(4)  # as on a 4-core machine, whatever this one has
    yield 4
    torch.set_num_threads(before)


def _another_busy_process(folder: Path) -> subprocess.Popen:
    """A process that registers as busy the way CpuShare does, and stays until killed."""
    code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('ready', flush=True); time.sleep(300)")  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([sys.executable, "-c", code, str(folder / "999999.lock")], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    return process


def test_alone_a_process_keeps_every_core(tmp_path, full_threads, monkeypatch):
    monkeypatch.delenv("TUNEUI_CPU_SHARING", raising=False)
    from backends.local.cpu_share import CpuShare

    share = CpuShare(tmp_path / "registry")
    with share.busy():
        assert torch.get_num_threads() == full_threads


def test_beside_another_busy_process_it_takes_its_share_and_gets_all_back_after(tmp_path, full_threads, monkeypatch):
    monkeypatch.delenv("TUNEUI_CPU_SHARING", raising=False)
    from backends.local.cpu_share import CpuShare

    folder = tmp_path / "registry"
    share = CpuShare(folder)
    other = _another_busy_process(folder)
    try:
        with share.busy():
            assert torch.get_num_threads() == full_threads // 2
            other.kill()
            other.wait()
            share.adjust(force=True)
            assert torch.get_num_threads() == full_threads  # the other one ended: all cores again
    finally:
        other.kill()
        other.wait()
    assert not (folder / "999999.lock").exists()  # a dead process's file is removed
    assert not list(folder.glob("*.lock"))  # and this one's, once it is no longer busy


def test_an_idle_process_takes_no_share(tmp_path, full_threads, monkeypatch):
    monkeypatch.delenv("TUNEUI_CPU_SHARING", raising=False)
    from backends.local.cpu_share import CpuShare

    folder = tmp_path / "registry"
    idle = CpuShare(folder)  # an inference child waiting for the chat's next message: never busy
    busy = CpuShare(folder)
    with busy.busy():
        assert torch.get_num_threads() == full_threads
    assert idle.live_processes() == 1  # only itself is ever counted


def test_the_old_behaviour_stays_one_switch_away(tmp_path, full_threads, monkeypatch):
    monkeypatch.setenv("TUNEUI_CPU_SHARING", "off")
    from backends.local.cpu_share import CpuShare

    folder = tmp_path / "registry"
    other = _another_busy_process(folder)
    try:
        with CpuShare(folder).busy():
            assert torch.get_num_threads() == full_threads
    finally:
        other.kill()
        other.wait()
