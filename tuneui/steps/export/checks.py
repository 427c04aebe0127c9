"""The checks an export runs before the user leaves, from the export worker's answers.

Each check is `{"ok": bool, ...numbers}`: shown on the Export card and in `tuneui export --json`.
"""

from __future__ import annotations

from typing import Any, Mapping

from tuneui.core.rules import check_answers, parse_rules
from tuneui.core.settings import Settings
from tuneui.steps.export import modelfile

CHECK_NAMES = {
    "merged_vs_adapter": "merged = adapter (greedy answers)",
    "gguf_metadata": "GGUF holds the chat template and every stop id",
    "gguf_answers": "GGUF read back: stops and passes rules like the merged model",
    "modelfile": "Modelfile template = tokenizer's prompt",
}
TOLERANCE = 1  # the GGUF may differ from the merged model by this many answers (its weights are rounded)


def same_answers(worker: Mapping[str, Any]) -> dict[str, Any]:
    """Merged vs adapter: greedy answers on the held-out prompts, the same one for one."""
    adapter, merged = worker["answers"]["adapter"], worker["answers"]["merged"]
    same = sum(a == b for a, b in zip(adapter, merged))
    # "evaluation": the adapter's answers are those `tuneui eval` saved (same prompts, same settings)
    source = worker.get("adapter_answers_from", "export")
    # How many merged answers one forward pass proved equal to the adapter's (the rest were generated)
    proven = (worker.get("proven_by_forcing") or {}).get("merged")
    return {
        "ok": same == len(adapter) == len(merged), "same": same, "total": len(adapter),
        "adapter_answers_from": source, "proven_by_forcing": proven,
    }  # fmt: skip


def gguf_metadata(worker: Mapping[str, Any]) -> dict[str, Any]:
    """Every GGUF carries the tokenizer's chat template and every stop token id."""
    stop_ids = list(worker["stop_ids"])
    files = {}
    for quant, metadata in worker["gguf"]["metadata"].items():
        carried = {metadata.get(key) for key in ("eos_token_id", "eot_token_id", "eom_token_id")}
        files[quant] = {
            "chat_template": metadata.get("chat_template") == worker["chat_template"],
            "missing_stop_ids": [i for i in stop_ids if i not in carried],
        }
    ok = all(f["chat_template"] and not f["missing_stop_ids"] for f in files.values())
    return {"ok": ok, "stop_ids": stop_ids, "files": files}


def gguf_answers(worker: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The GGUF read back answers the held-out prompts: they stop on their own and pass the task
    rules as often as the merged model's, within one answer."""
    gguf = worker["gguf"]
    ended = {"gguf": sum(gguf["ended"]), "merged": sum(worker["ended"]["merged"])}
    rules = parse_rules(settings.rules)
    passed = None
    if rules:
        passed = {
            "gguf": check_answers(rules, gguf["answers"]).summary()["passed"],
            "merged": check_answers(rules, worker["answers"]["merged"]).summary()["passed"],
        }
    ok = ended["gguf"] >= ended["merged"] - TOLERANCE and (passed is None or passed["gguf"] >= passed["merged"] - TOLERANCE)
    proven = (worker.get("proven_by_forcing") or {}).get("gguf")
    return {
        "ok": ok, "file": gguf["files"][gguf["read_back"]], "total": len(gguf["answers"]), "ended": ended,
        "rules_passed": passed, "proven_by_forcing": proven,
    }  # fmt: skip


def modelfile_renders(template: str, probe: Mapping[str, str]) -> dict[str, Any]:
    """The Modelfile's template gives the tokenizer's prompt text for a system + user turn."""
    messages = [{"role": "system", "content": probe["real_system"]}, {"role": "user", "content": probe["real_user"]}]
    rendered = modelfile.render(template, messages)
    return {"ok": rendered == probe["real_prompt"], "rendered": rendered, "expected": probe["real_prompt"]}


def all_passed(found: Mapping[str, Mapping[str, Any]]) -> bool:
    return all(check.get("ok") for check in found.values())


def describe(name: str, check: Mapping[str, Any]) -> str:
    """A check's numbers in a few words, for the card, the view and the model card."""
    if name == "merged_vs_adapter":
        return f"{check.get('same')} of {check.get('total')} the same"
    if name == "gguf_metadata":
        files = dict(check.get("files") or {})
        missing = sorted({i for f in files.values() for i in dict(f).get("missing_stop_ids") or []})
        return f"stop ids {check.get('stop_ids')}" + (f"; missing {missing}" if missing else "") + f" in {', '.join(files)}"
    if name == "gguf_answers":
        ended, rules = dict(check.get("ended") or {}), check.get("rules_passed")
        text = f"{check.get('file')}: stopped {ended.get('gguf')}/{check.get('total')} (merged {ended.get('merged')})"
        return text + (f"; rules {rules.get('gguf')} (merged {rules.get('merged')})" if isinstance(rules, Mapping) else "; no task rules")
    if name == "modelfile":
        return str(check.get("why") or ("same text" if check.get("ok") else "the texts differ"))
    return ""
