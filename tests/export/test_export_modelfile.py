"""The Modelfile's template, built from a chat template's rendering, gives the same prompt text as
the chat template itself; a template that cannot be written in Ollama's syntax is named, not guessed.

The chat templates are rendered with Jinja the way transformers renders them (a sandbox with
`raise_exception`), through the export worker's own probe.
"""

from __future__ import annotations

import jinja2
import jinja2.sandbox
import pytest

from backends.local.export_worker import template_probe
from tuneui.steps.export import modelfile
from tuneui.steps.export.checks import modelfile_renders

CHATML = (  # SmolLM2-Instruct's, as its tokenizer ships it
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI "
    "assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
LLAMA3 = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + "
    "message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{{ '<start_of_turn>' + message['role'] + '\n' + message['content'] + '<end_of_turn>\n' }}{% endfor %}"
)
MISTRAL = (  # the system prompt is glued into the first user turn: no fixed prefix per message
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{% set ns = message['content'] %}"
    "{% elif message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}"
)


class JinjaTokenizer:
    def __init__(self, template: str, bos: str = "") -> None:
        env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = self._raise
        self.template = env.from_string(template)
        self.bos = bos

    @staticmethod
    def _raise(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False) -> str:
        return self.template.render(messages=messages, add_generation_prompt=add_generation_prompt, bos_token=self.bos, eos_token="</s>")


def _template_and_probe(chat_template: str, bos: str = "") -> tuple[str, dict]:
    probe = template_probe(JinjaTokenizer(chat_template, bos), "Reply with the label only.", modelfile.MARKERS)
    return modelfile.go_template(modelfile.pieces(probe)), probe


@pytest.mark.parametrize("chat_template, bos", [(CHATML, ""), (LLAMA3, "<|begin_of_text|>")], ids=["chatml", "llama3"])
def test_the_modelfile_renders_the_tokenizers_prompt(chat_template, bos) -> None:
    template, probe = _template_and_probe(chat_template, bos)
    assert modelfile_renders(template, probe)["ok"]
    tokenizer = JinjaTokenizer(chat_template, bos)
    conversation = [
        {"role": "system", "content": "S"}, {"role": "user", "content": "U1"},
        {"role": "assistant", "content": "A1"}, {"role": "user", "content": "U2"},
    ]  # fmt: skip
    assert modelfile.render(template, conversation) == tokenizer.apply_chat_template(conversation, add_generation_prompt=True)


def test_a_modelfile_names_its_gguf_every_stop_and_the_system_prompt() -> None:
    template, _ = _template_and_probe(CHATML)
    text = modelfile.modelfile("m-q8_0.gguf", template, ["<|im_end|>", '"quoted"'], "Be brief.")
    assert text.startswith("FROM ./m-q8_0.gguf\n\nTEMPLATE \"\"\"{{ range .Messages }}")
    assert 'PARAMETER stop "<|im_end|>"\nPARAMETER stop "\\"quoted\\""' in text
    assert text.endswith('SYSTEM """Be brief."""\n')


def test_a_template_without_a_system_role_is_named() -> None:
    probe = template_probe(JinjaTokenizer(GEMMA, "<bos>"), "S", modelfile.MARKERS)
    with pytest.raises(modelfile.TemplateShapeError, match="cannot render a system \\+ user turn.*System role not supported"):
        modelfile.pieces(probe)


def test_a_template_that_glues_the_system_prompt_into_a_turn_is_named() -> None:
    probe = template_probe(JinjaTokenizer(MISTRAL, "<s>"), "S", modelfile.MARKERS)
    with pytest.raises(modelfile.TemplateShapeError):
        modelfile.pieces(probe)


def test_text_a_modelfile_cannot_quote_is_refused() -> None:
    with pytest.raises(modelfile.TemplateShapeError, match='"""'):
        modelfile.modelfile("m.gguf", "{{ range .Messages }}{{ end }}", [], 'say """hi"""')


def test_an_ollama_name_is_lowercase_and_safe() -> None:
    assert modelfile.ollama_name("SmolLM2-135M-Instruct-tuned-20261207-1200-ab") == "smollm2-135m-instruct-tuned-20261207-1200-ab"
    assert modelfile.ollama_name("Weird Name/..x") == "weird-name-..x"
