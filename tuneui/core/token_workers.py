"""Token counting in helper processes: a big file's texts are counted on every core while it is read.

The counter (bpe-openai's, else tiktoken's) holds the GIL, so threads cannot share it; processes
can. `CountingPool` starts helpers (`tuneui.core.token_workers ENCODING` as a module) and sends
each a slice of a batch's distinct texts, counting a share itself; `tuneui data check` reads the
next batch while the helpers count this one, and the caller's share adapts until neither waits.

A frame is a uint32 count, the length of each text in code points (native byte order: both ends
are on one machine), the byte size of the joined texts, then the joined texts in UTF-8 (lone
surrogates, legal in JSON, pass as surrogatepass); the reply is one uint32 count per text. A
helper that fails or dies is never fatal: its slice is counted in the caller's process, and the
pool stops using helpers. Helpers exit at end of input, so they never outlive their caller.
"""

from __future__ import annotations

import select
import struct
import subprocess
import sys
from array import array
from typing import IO, Callable, Sequence

from tuneui.core import tokens
from tuneui.core.children import module_command, tied_environment, track, untrack, watch_parent

Collect = Callable[[], list[int]]
BALANCE_STEP = 0.03
MAX_INLINE_SHARE = 0.9
_HEADER = struct.Struct("<I")


class CountingPool:
    """Helper processes that count token lengths; `submit` returns a function that waits for them."""

    def __init__(self, encoding: str, helpers: int) -> None:
        self.encoding = encoding
        # The part of each batch counted in the caller's process, adjusted batch by batch. The
        # caller also reads, checks and audits the file (about 0.4x the counting on chat data), so
        # it starts below an even split: a third with one helper, converging near a quarter.
        self.inline_share = 1 / (helpers + 2)
        self._helpers: list[subprocess.Popen[bytes]] = []
        for _ in range(helpers):
            try:
                self._helpers.append(
                    track(subprocess.Popen(
                        # this tuneui's counting code, whatever the working folder holds
                        module_command("tuneui.core.token_workers", encoding),
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=tied_environment(),
                    ))  # fmt: skip
                )
            except OSError:  # no process to spare: count in this one
                break

    def submit(self, texts: list[str]) -> Collect:
        """Send the helpers their share of `texts`; the returned function counts the caller's share
        and waits for theirs, giving the counts in order. Call it before the next `submit`: a
        helper answers one frame at a time.
        """
        if not self._helpers or not texts:
            return lambda: tokens.encoded_lengths(self.encoding, texts)
        inline = round(len(texts) * self.inline_share)
        mine, theirs = texts[:inline], texts[inline:]
        size = -(-len(theirs) // len(self._helpers)) if theirs else 1
        slices = [theirs[start : start + size] for start in range(0, len(theirs), size)]
        sent = [(part, helper if self._send(helper, part) else None) for part, helper in zip(slices, self._helpers)]

        def collect() -> list[int]:
            lengths = tokens.encoded_lengths(self.encoding, mine)
            self._balance([helper for _, helper in sent if helper])
            for part, helper in sent:
                counted = self._receive(helper, len(part)) if helper else None
                lengths.extend(counted if counted is not None else tokens.encoded_lengths(self.encoding, part))
            return lengths

        return collect

    def _balance(self, helpers: list[subprocess.Popen[bytes]]) -> None:
        # The caller reads and checks the file besides counting its share. Answers already waiting
        # mean the helpers sat idle: the caller takes less next time; none ready, it takes more.
        streams = [helper.stdout for helper in helpers if helper.stdout]
        if not streams:
            return
        try:
            ready = select.select(streams, [], [], 0)[0]
        except (OSError, ValueError):
            return
        step = BALANCE_STEP if len(ready) < len(streams) else -BALANCE_STEP
        self.inline_share = min(MAX_INLINE_SHARE, max(0.0, self.inline_share + step))

    def close(self) -> None:
        helpers, self._helpers = self._helpers, []
        for helper in helpers:
            for stream in (helper.stdin, helper.stdout):
                try:
                    stream.close() if stream else None
                except OSError:
                    pass
            try:
                helper.wait(timeout=5)
            except subprocess.TimeoutExpired:
                helper.kill()
                helper.wait()
            untrack(helper)

    def __enter__(self) -> CountingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, helper: subprocess.Popen[bytes], texts: Sequence[str]) -> bool:
        # One encode of the joined texts, not one per text: the helper cuts them apart by length.
        blob = "".join(texts).encode("utf-8", "surrogatepass")
        frame = _HEADER.pack(len(texts)) + array("I", map(len, texts)).tobytes() + _HEADER.pack(len(blob)) + blob
        try:
            assert helper.stdin is not None
            helper.stdin.write(frame)
            helper.stdin.flush()
            return True
        except (OSError, ValueError):
            self._give_up()
            return False

    def _receive(self, helper: subprocess.Popen[bytes], count: int) -> list[int] | None:
        data = _read_exactly(helper.stdout, 4 * count) if helper.stdout else None
        if data is None:
            self._give_up()
            return None
        return array("I", data).tolist()

    def _give_up(self) -> None:
        # One broken helper means a broken environment: the rest of the file is counted in line.
        self.close()


def _read_exactly(stream: IO[bytes] | None, size: int) -> bytes | None:
    if stream is None:
        return None
    chunks, left = [], size
    while left:
        try:
            chunk = stream.read(left)
        except (OSError, ValueError):
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def serve(encoding: str, source: IO[bytes], sink: IO[bytes]) -> None:
    """The helper's loop: frames in, counts out, until the input ends."""
    while (header := _read_exactly(source, _HEADER.size)) is not None:
        (count,) = _HEADER.unpack(header)
        sizes = array("I", _read_exactly(source, 4 * count) or b"")
        blob_size = _read_exactly(source, _HEADER.size)
        blob = _read_exactly(source, _HEADER.unpack(blob_size)[0]) if blob_size else None
        if len(sizes) != count or blob is None:
            return
        joined = blob.decode("utf-8", "surrogatepass")
        texts, start = [], 0
        for size in sizes:
            texts.append(joined[start : start + size])
            start += size
        sink.write(array("I", tokens.encoded_lengths(encoding, texts)).tobytes())
        sink.flush()


if __name__ == "__main__":
    watch_parent()
    serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)
