"""A tiny offline Llama-architecture model for tests and the demo: random weights, real tokenizer.

It trains in seconds on a CPU, so every code path of the local backend (QLoRA, checkpoints,
resume, inference through the chat template) runs without a GPU or the Hugging Face hub.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

# ChatML with `{% generation %}` markers around assistant content: trl's `assistant_only_loss`
# reads those markers to put the loss on the assistant's tokens only.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

SPECIAL_TOKENS = ("<|pad|>", "<|im_start|>", "<|im_end|>")

_FALLBACK_TEXTS = (
    "You are a helpful assistant.",
    "Classify the ticket as billing, bug or question.",
    "The invoice was charged twice this month.",
    "The app crashes when I open settings.",
    "How do I export my data to CSV?",
    "billing", "bug", "question",
    '{"label": "billing", "confidence": 0.9}',
    "Thanks for reaching out! We have refunded the duplicate charge.",
)


def build_tiny_model(
    out_dir: str | os.PathLike[str],
    texts: Iterable[str] | None = None,
    *,
    vocab_size: int = 768,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_positions: int = 1024,
    seed: int = 0,
) -> Path:
    """Build and `save_pretrained` a tiny model + tokenizer in `out_dir`; return the folder.

    The tokenizer is byte-level BPE trained on `texts` (any text round-trips, the frequent pieces
    of the user's data become single tokens). Same texts + same seed = same files.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corpus = [t for t in (texts or ()) if t] or list(_FALLBACK_TEXTS)
    # The template's own words must tokenize compactly too.
    corpus = corpus + ["system", "user", "assistant", "\n"]

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        pad_token="<|pad|>",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        model_max_length=max_positions,
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(out)

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_positions,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out, safe_serialization=True)
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m backends.local.tiny OUT_DIR [TEXT_FILE]`: build the tiny model from a shell."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m backends.local.tiny OUT_DIR [TEXT_FILE]", file=sys.stderr)
        return 2
    texts = Path(args[1]).read_text(encoding="utf-8").splitlines() if len(args) > 1 else None
    print(build_tiny_model(args[0], texts))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
