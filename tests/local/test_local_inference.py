"""The tiny model and inference through the worker process: what baseline, eval and chat rely on."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tuneui.core.backend import BackendError, GenerationParams, ModelRef
from backends.local.backend import LocalBackend


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    """One backend, hence one inference worker, for the module: as the UI keeps it for a session."""
    from tuneui.core.workspace import init_workspace

    local = LocalBackend(init_workspace(tmp_path_factory.mktemp("inference") / "project"))
    yield local
    local.close()


def test_tiny_model_loads_offline_and_marks_assistant_tokens(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert model.config.model_type == "llama"
    assert sum(p.numel() for p in model.parameters()) < 500_000
    messages = [{"role": "user", "content": "The app crashes."}, {"role": "assistant", "content": "bug"}]
    encoded = tokenizer.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
    masked = [t for t, m in zip(encoded["input_ids"], encoded["assistant_masks"]) if m]
    # The answer and its end-of-turn token carry the loss; the prompt does not.
    assert tokenizer.decode(masked) == "bug<|im_end|>"


@pytest.mark.integration
def test_tiny_model_is_deterministic_for_a_seed(tmp_path):
    from backends.local.tiny import build_tiny_model

    first = build_tiny_model(tmp_path / "a", ["same text"], seed=3)
    second = build_tiny_model(tmp_path / "b", ["same text"], seed=3)
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
    assert (first / "tokenizer.json").read_text() == (second / "tokenizer.json").read_text()


@pytest.mark.integration
def test_generate_batches_greedy_and_is_repeatable(backend, tiny_model):
    ref = ModelRef(backend="local", base_model=str(tiny_model))
    conversations = [[{"role": "user", "content": "The app crashes."}], [{"role": "user", "content": "Refund me"}]] * 3
    params = GenerationParams(max_new_tokens=6)
    first = backend.generate(ref, conversations, params)
    assert len(first) == 6 and all(isinstance(text, str) for text in first)
    assert first[0] == first[2] == first[4]  # same prompt, greedy: same answer, in order
    assert backend.generate(ref, conversations[:2], params) == first[:2]


@pytest.mark.integration
def test_sampling_follows_the_seed(backend, tiny_model):
    ref = ModelRef(backend="local", base_model=str(tiny_model))
    conversation = [[{"role": "user", "content": "hello"}]]
    sampled = [backend.generate(ref, conversation, GenerationParams(max_new_tokens=8, temperature=1.0, seed=s))[0] for s in (1, 1, 2)]
    assert sampled[0] == sampled[1]


@pytest.mark.integration
def test_stream_yields_the_greedy_reply_in_chunks(backend, tiny_model):
    ref = ModelRef(backend="local", base_model=str(tiny_model))
    conversation = [{"role": "user", "content": "How do I export my data?"}]
    params = GenerationParams(max_new_tokens=8)
    chunks = list(backend.stream(ref, conversation, params))
    assert len(chunks) >= 2
    assert "".join(chunks) == backend.generate(ref, [conversation], params)[0]


@pytest.mark.integration
def test_missing_model_is_a_backend_error_and_the_worker_keeps_serving(backend, tmp_path, tiny_model):
    with pytest.raises(BackendError) as caught:
        backend.generate(ModelRef(backend="local", base_model=str(tmp_path / "absent")), [[{"role": "user", "content": "x"}]])
    assert "Cannot load the model" in caught.value.title and caught.value.hint
    ok = backend.generate(ModelRef(backend="local", base_model=str(tiny_model)), [[{"role": "user", "content": "x"}]], GenerationParams(max_new_tokens=2))
    assert len(ok) == 1


@pytest.mark.integration
def test_the_calling_process_never_imports_torch(tiny_model, tmp_path):
    code = (
        "import sys\n"
        "from tuneui.core.backend import ModelRef, GenerationParams\n"
        "from backends.local.backend import LocalBackend\n"
        "from tuneui.core.workspace import init_workspace\n"
        f"b = LocalBackend(init_workspace({str(tmp_path / 'p')!r}))\n"
        f"print(b.generate(ModelRef('local', {str(tiny_model)!r}), [[{{'role': 'user', 'content': 'hi'}}]], GenerationParams(max_new_tokens=2)))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'peft', 'trl', 'bitsandbytes', 'textual'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_counted_answers_match_and_the_count_reaches_every_answer(backend, tiny_model):
    """Issue 21: the baseline's "answer N of M" comes from the worker, as answers finish."""
    ref = ModelRef(backend="local", base_model=str(tiny_model))
    conversations = [[{"role": "user", "content": f"Ticket {n}: the app crashes."}] for n in range(5)]
    params = GenerationParams(max_new_tokens=6)
    counts: list[int] = []
    answers, ended = backend.complete_counted(ref, conversations, params, counts.append)
    assert (answers, ended) == tuple(backend.complete(ref, conversations, params))
    assert counts and counts[-1] == 5 and counts == sorted(counts)


@pytest.mark.integration
def test_the_count_inside_a_batch_follows_the_rows_that_stopped():
    """A stop token in a row's answer counts it done before the batch ends; the prompt's do not."""
    import torch

    from backends.local.inference import COUNT_EVERY, _finished_counter

    heard: list[int] = []
    criteria = _finished_counter(torch, {7}, prompt_length=2, before=32, on_count=heard.append)[0]
    prompt = [[7, 1], [1, 1], [1, 1]]  # a stop id in the prompt is no answer's end
    for step, rows in enumerate(([3, 3, 3], [3, 7, 3], [7, 3, 3]), start=1):
        answers = [[row[i] for row in ([3, 3, 3], [3, 7, 3], [7, 3, 3])[:step]] for i in range(3)]
        ids = torch.tensor([p + a for p, a in zip(prompt, answers)])
        for _ in range(COUNT_EVERY):
            assert not criteria(ids, None).any(), "it never stops a row"
    assert heard == [33, 34]
