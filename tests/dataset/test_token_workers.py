"""Token counting in helper processes: the same counts as in line, whatever happens to a helper."""

from __future__ import annotations

import pytest

import json
import os
import signal

from tuneui.core import tokens
from tuneui.core.dataset import check, checks
from tuneui.core.token_workers import CountingPool

from .conftest import chat, many_chats

pytestmark = pytest.mark.integration  # local servers, child processes or torch

TEXTS = ["Hello, world!", "", "naïve café — 東京 🚲", "lone \ud800 surrogate", "x" * 5000, "  spaced\tout\n"]


def test_helpers_count_exactly_what_the_caller_counts() -> None:
    expected = tokens.encoded_lengths("o200k_base", TEXTS * 50)
    with CountingPool("o200k_base", 2) as pool:
        assert pool.submit(TEXTS * 50)() == expected
        assert pool.submit([])() == []
        # the caller's share moves between batches; the counts do not
        for _ in range(5):
            assert pool.submit(TEXTS * 50)() == expected


def test_a_killed_helper_costs_time_never_a_count() -> None:
    pool = CountingPool("o200k_base", 1)
    pool.inline_share = 0.0  # everything to the helper, so its death is felt
    expected = tokens.encoded_lengths("o200k_base", TEXTS * 20)
    (helper,) = pool._helpers
    os.kill(helper.pid, signal.SIGKILL)
    helper.wait()
    assert pool.submit(TEXTS * 20)() == expected
    assert pool._helpers == []  # the rest of the file is counted in line
    assert pool.submit(TEXTS)() == tokens.encoded_lengths("o200k_base", TEXTS)
    pool.close()


def test_helpers_end_with_the_pool() -> None:
    pool = CountingPool("o200k_base", 2)
    helpers = list(pool._helpers)
    pool.submit(TEXTS)()
    pool.close()
    assert all(helper.poll() is not None for helper in helpers)


def test_a_big_file_checked_with_helpers_reports_what_one_process_reports(write_jsonl, monkeypatch) -> None:
    records = many_chats(300) + [chat("Tell me everything. " * 400, "All of it. " * 400)] + ["{not json"]
    records += [chat(f"Question {n}? \ud83d\udeb2", f"Answer {n} \u00e9") for n in range(200)]
    path = write_jsonl(records)
    monkeypatch.setattr(checks, "BATCH_EXAMPLES", 64)  # many frames, each pipelined behind the next
    in_line = check(path, token_limit=2000)
    started = []
    real_pool = checks.CountingPool

    def spy(encoding: str, helpers: int) -> CountingPool:
        started.append(helpers)
        return real_pool(encoding, helpers)

    monkeypatch.setattr(checks, "CountingPool", spy)
    monkeypatch.setattr(checks, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(checks, "cpu_cores", lambda: 3)
    pooled = check(path, token_limit=2000)
    assert started == [2]
    assert json.dumps(pooled.to_json()) == json.dumps(in_line.to_json())
    assert pooled.total_tokens == sum(tokens.count_examples([r["messages"] for r in records if isinstance(r, dict)]))


def test_helpers_count_with_this_tuneui_not_one_in_the_working_folder(tmp_path, monkeypatch) -> None:
    # A source checkout of another tuneui version as the working folder: `python -m` would import
    # its counting code in the helpers, here one that answers 7 for every text.
    fake = tmp_path / "tuneui" / "core"
    fake.mkdir(parents=True)
    (tmp_path / "tuneui" / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "token_workers.py").write_text(
        "import sys\nfrom array import array\nwhile (h := sys.stdin.buffer.read(4)):\n"
        "    n = int.from_bytes(h, 'little'); sys.stdin.buffer.read(4 * n); size = int.from_bytes(sys.stdin.buffer.read(4), 'little')\n"
        "    sys.stdin.buffer.read(size); sys.stdout.buffer.write(array('I', [7] * n).tobytes()); sys.stdout.buffer.flush()\n"
    )
    monkeypatch.chdir(tmp_path)
    with CountingPool("o200k_base", 1) as pool:
        pool.inline_share = 0.0
        assert pool.submit(TEXTS * 20)() == tokens.encoded_lengths("o200k_base", TEXTS * 20)
        assert len(pool._helpers) == 1  # counted by the helper, not in line after it failed


def test_helpers_are_sized_to_the_file_not_to_every_core(write_jsonl, monkeypatch) -> None:
    # Each helper holds its own encoding tables (about 90 MB): on a 64-core box a 9 MB file must
    # not start 63 of them, and beyond a few the reading process is the bottleneck anyway.
    path = write_jsonl(many_chats(200))
    size = path.stat().st_size
    started = []
    real_pool = checks.CountingPool
    monkeypatch.setattr(checks, "CountingPool", lambda encoding, helpers: started.append(helpers) or real_pool(encoding, helpers))
    monkeypatch.setattr(checks, "cpu_cores", lambda: 64)
    for pool_bytes, expected in ((size, 1), (size // 2, 2), (size // 100, checks.MAX_HELPERS)):
        monkeypatch.setattr(checks, "POOL_MIN_BYTES", pool_bytes)
        check(path)
        assert started.pop() == expected
    monkeypatch.setattr(checks, "cpu_cores", lambda: 2)
    check(path)
    assert started.pop() == 1  # one per core but the caller's
