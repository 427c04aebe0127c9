"""Reading a GGUF file through transformers without parsing it again and again.

transformers reads a GGUF once for its config, again for its tokenizer and again for its weights,
and builds gguf's tensor-name map anew for each of the model's modules (397 for SmolLM2-135M): 14
of the 19 s that loading the demo's q8_0 GGUF took. While `parsed_once()` is open, each file is
parsed once and each architecture's map built once; what is read is the same.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Iterator


@contextlib.contextmanager
def parsed_once() -> Iterator[None]:
    """Within the block, gguf.GGUFReader and gguf.get_tensor_name_map remember their answers (the
    file is only read: a reader shared between transformers' passes sees the same bytes)."""
    import gguf

    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    gguf.GGUFReader = functools.cache(reader)  # type: ignore[misc]
    gguf.get_tensor_name_map = functools.cache(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader, name_map
