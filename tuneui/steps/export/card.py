"""The export's model card (README.md) and the commands that serve the tuned model elsewhere."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any, Mapping

from tuneui.core.backend import ModelRef
from backends.runs import RunFolder
from tuneui.core.files import read_json
from tuneui.core.rules import pass_rate
from tuneui.core.visible import visible
from tuneui.core.workspace import Workspace
from tuneui.errors import TuneError
from tuneui.core.review_stats import summary_lines
from tuneui.steps.export.checks import CHECK_NAMES, describe
from tuneui.steps.review import current_verdict, human_for_run

VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the values vLLM's --max-lora-rank accepts
HOSTED_BASE_URLS = {"together": "https://api.together.xyz/v1"}


def model_name(ref: ModelRef, run_id: str) -> str:
    base = Path(ref.base_model.rstrip("/")).name or "model"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", f"{base}-tuned-{run_id}")


def adapter_rank(adapter: str) -> int | None:
    config = read_json(Path(adapter) / "adapter_config.json", default={})
    rank = config.get("r") if isinstance(config, dict) else None
    return rank if isinstance(rank, int) and rank > 0 else None


def serve_commands(workspace: Workspace, folder: RunFolder, ref: ModelRef, worker: Mapping[str, Any]) -> dict[str, str]:
    name = model_name(ref, folder.run_id)
    merged = workspace.root / "exports" / folder.run_id / "merged"
    rank = adapter_rank(ref.path or "") or 16
    max_rank = next((r for r in VLLM_LORA_RANKS if r >= rank), rank)
    return {
        "vllm": (
            f"vllm serve {shlex.quote(ref.base_model)} --enable-lora --lora-modules {shlex.quote(f'{name}={ref.path}')} "
            f"--max-lora-rank {max_rank}"
        ),
        "vllm_merged": f"vllm serve {shlex.quote(str(merged))}",
        "transformers": "\n".join([
            "from transformers import pipeline",
            f"chat = pipeline('text-generation', model={str(merged)!r})",
            "messages = [{'role': 'user', 'content': 'Hello!'}]",
            "reply = chat(messages, max_new_tokens=256)",
            "print(reply[0]['generated_text'][-1]['content'])",
        ]),  # fmt: skip
    }


def hosted_call(ref: ModelRef, system_prompt: str) -> dict[str, str]:
    """The provider's model id and a ready-to-run call (OpenAI's client; Together speaks the same API)."""
    base_url = HOSTED_BASE_URLS.get(ref.backend)
    client = f"OpenAI(base_url={base_url!r})" if base_url else "OpenAI()"
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [{"role": "user", "content": "Hello!"}]
    code = "\n".join([
        "from openai import OpenAI",
        f"client = {client}  # reads the provider's key from the environment",
        f"reply = client.chat.completions.create(model={ref.model_id!r}, messages={json.dumps(messages, ensure_ascii=False)})",
        "print(reply.choices[0].message.content)",
    ])  # fmt: skip
    return {"model_id": ref.model_id or "", "provider": ref.backend, "python": code}


def licence(base_model: str) -> str:
    """The base model's licence as its own files state it."""
    readme = Path(base_model) / "README.md"
    if readme.is_file():
        match = re.search(r"^license:\s*(\S.*)$", readme.read_text(encoding="utf-8", errors="replace"), re.M)
        if match:
            return match.group(1).strip()
    for name in ("LICENSE", "LICENSE.txt", "LICENSE.md"):
        if (Path(base_model) / name).is_file():
            return f"see {name} in the base model's folder"
    return "not stated in the base model's files: check the model's page before you share the tuned model"


def model_card(workspace: Workspace, folder: RunFolder, ref: ModelRef, spec: Any, result: Mapping[str, Any]) -> str:
    project = _text(workspace.settings().project.name)
    lines = [f"# {model_name(ref, folder.run_id)}", "", f"Fine-tuned with tuneui from run {folder.run_id} of project {project}.", ""]
    lines += ["## Base model", "", f"- Model: {_text(ref.base_model)}", f"- Licence: {_text(licence(ref.base_model))}", ""]
    lines += ["## Data", ""] + _data(workspace) + [""]
    lines += ["## Training", ""] + _training(spec, folder) + [""]
    lines += ["## Evaluation", ""] + _evaluation(workspace, folder) + [""]
    lines += ["## Export checks", ""] + _checks(result) + [""]
    lines += ["## How to use it", ""] + _usage(result)
    return "\n".join(lines) + "\n"


def _data(workspace: Workspace) -> list[str]:
    from tuneui.core.dataset.checks import check

    out = []
    for label, path in (("training", workspace.train_file), ("held-out validation", workspace.val_file)):
        if not path.is_file():
            out.append(f"- {label}: no file")
            continue
        try:
            report = check(path)
        except TuneError as exc:  # the card still gets written; the data's problem is named in it
            out.append(f"- {label}: could not be checked ({exc.title})")
            continue
        codes: dict[str, int] = {}
        for finding in (*report.errors, *report.warnings):
            codes[finding.code] = codes.get(finding.code, 0) + 1
        found = ", ".join(f"{count} {code}" for code, count in sorted(codes.items())) or "none"
        out.append(f"- {label}: {report.examples} examples; check findings: {found}")
    return out


def _training(spec: Any, folder: RunFolder) -> list[str]:
    plan = dict((spec.options or {}).get("plan") or {})
    rows = [
        ("backend", spec.backend), ("steps", plan.get("steps", spec.steps)), ("epochs", spec.epochs),
        ("learning rate", plan.get("learning_rate", spec.learning_rate)), ("batch size", plan.get("batch_size", spec.batch_size)),
        ("LoRA rank / alpha / dropout", f"{spec.lora_r} / {spec.lora_alpha} / {spec.lora_dropout}"),
        ("LoRA targets", ", ".join(spec.lora_targets)), ("max length", spec.max_length), ("seed", spec.seed),
    ]  # fmt: skip
    return [f"- {name}: {value}" for name, value in rows if value is not None]


def _evaluation(workspace: Workspace, folder: RunFolder) -> list[str]:
    result = read_json(folder.eval_dir / "result.json", default=None)
    if not isinstance(result, dict):
        return ["Not evaluated: run `tuneui eval " + folder.run_id + "` and export again to put the numbers here."]
    human, people = _people(workspace, folder.run_id)
    primary = result.get("primary_metric", "score")
    out = [f"Verdict: {_text(current_verdict(result, human))}", "", *people]
    out += [f"| prompt or model | {_text(primary)} |", "| --- | --- |"]
    for variant, values in dict(result.get("variants") or {}).items():
        out.append(f"| baseline: {_text(variant).replace('|', chr(92) + '|')} | {_number(dict(values).get(primary))} |")
    tuned = dict((result.get("metrics") or {}).get("tuned") or {})
    out.append(f"| tuned | {_number(tuned.get(primary))} |")
    low, high = (list(result.get("difference_ci95") or []) + [None, None])[:2]
    out += ["", f"Tuned minus best prompt: {_number(result.get('difference'))}, 95 % interval [{_number(low)}, {_number(high)}]."]
    rules = result.get("rules")
    if isinstance(rules, dict) and rules.get("tuned"):
        out.append(f"Task rules passed: tuned {pass_rate(rules['tuned'])}, best prompt {pass_rate(rules['baseline'])}.")
    forgetting = result.get("forgetting")
    out.append(f"Forgetting check: {json.dumps(forgetting, ensure_ascii=False)}" if forgetting else "Forgetting check: not run.")
    return out


def _people(workspace: Workspace, run_id: str) -> tuple[Any, list[str]]:
    """People's blind review of the run (`tuneui review`), as the verdict counts it now."""
    try:
        human = human_for_run(workspace, run_id)
    except TuneError as exc:  # a damaged review file: named, the rest of the card still written
        return None, [f"People's blind review: not read ({_text(exc.title)}).", ""]
    if human is None:
        return None, ["People's blind review: none yet (`tuneui review " + run_id + "`).", ""]
    return human, ["People's blind review:", *(f"- {_text(line)}" for line in summary_lines(human.summary())), ""]


def _checks(result: Mapping[str, Any]) -> list[str]:
    found = result.get("checks") or {}
    if not found:
        return ["No weights were exported, so no check ran."]
    return [f"- {'passed' if check.get('ok') else 'FAILED'}: {CHECK_NAMES.get(name, name)}: {describe(name, check)}" for name, check in found.items()]


def _usage(result: Mapping[str, Any]) -> list[str]:
    if result.get("hosted"):
        hosted = result["hosted"]
        return [f"Hosted by {hosted['provider']} as `{hosted['model_id']}`:", "", "```python", hosted["python"], "```"]
    out = []
    for name, command in dict(result.get("commands") or {}).items():
        out += [f"{name}:", "", "```" + ("python" if name == "transformers" else "sh"), command, "```", ""]
    return out + [f"Note: {note}" for note in result.get("notes") or []]


def _text(value: Any) -> str:
    """Text from a file or a person, as Markdown shows it literally: one line, no raw HTML, control characters visible."""
    flat = visible(" ".join(str(value).split()))
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "—" if value is None else str(value)
