"""The defaults rule on a second task: routing bike-shop messages to a team (a label task).

    python bench/second_task.py [DIR] [--budget MINUTES]

It writes 200 labelled messages (seeded, so every run has the same data), then runs the steps a
user would, as commands: init, data import, split, baseline (3-shot), train (no knob set: the
defaults rule with the demo's time budget), eval. It prints the plan, the comparison with the best
prompt and the verdict. The data is made here, not shipped: it is a check of the rule, not a demo.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYSTEM = ("Route the customer's message to one team of Cadence Cycles: workshop, rentals, orders, returns or account. "
          "Reply with the team's name only.")  # fmt: skip
TEAMS = {
    "workshop": ["My {bike} makes a {noise} noise when I {ride}.", "Can you fit new {part} on my {bike}?",
                 "How much is a service for a {bike}?", "My {part} keep slipping since {when}.",
                 "Could you true a buckled wheel on my {bike}?", "The {part} on my {bike} feel loose, can you look at them?"],
    "rentals": ["Can I hire an e-bike {when}?", "Do you have kids' bikes to rent for {when}?",
                "I want to extend my {bike} rental by two days.", "What deposit do you hold for a rented {bike}?",
                "Can I cancel my rental booking for {when}?", "Is a helmet included when I rent a {bike}?"],
    "orders": ["Where is my order of {part}? It was due {when}.", "Has my parcel with the {part} shipped yet?",
               "Can I change the delivery address for my {part} order?", "My tracking link for the {part} does not work.",
               "Do you deliver {part} to the Isle of Wight?", "I ordered {part} {when} and nothing has arrived."],
    "returns": ["The {part} I bought are the wrong size, can I send them back?", "How do I return unused {part}?",
                "I returned {part} {when}, when will I get my refund?", "The {part} arrived damaged, I want my money back.",
                "Can I swap the {part} for a different colour?", "My refund for the {part} has not shown up."],
    "account": ["I can't log in to my account since {when}.", "How do I change the email on my account?",
                "Please delete my account and my data.", "My Cadence Club membership does not show in my account.",
                "I forgot my password and the reset email never came.", "Can I merge two accounts I made {when}?"],
}  # fmt: skip
FILLERS = {
    "bike": ["road bike", "gravel bike", "e-bike", "mountain bike", "city bike", "folding bike", "cargo bike"],
    "noise": ["clicking", "grinding", "squeaking", "rattling", "ticking"],
    "ride": ["pedal hard", "change gear", "brake", "go uphill", "ride over bumps"],
    "part": ["brake pads", "tyres", "inner tubes", "gear cables", "pedals", "chains", "lights", "mudguards"],
    "when": ["last Tuesday", "yesterday", "this weekend", "next Saturday", "two weeks ago", "on Friday", "this morning"],
}


def examples(count: int = 200, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[dict] = []
    while len(out) < count:
        team = rng.choice(sorted(TEAMS))
        text = rng.choice(TEAMS[team])
        for key, values in FILLERS.items():
            text = text.replace("{" + key + "}", rng.choice(values))
        if text in seen:
            continue
        seen.add(text)
        out.append({"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text},
                                 {"role": "assistant", "content": team}]})  # fmt: skip
    return out


def tuneui(project: Path, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "tuneui", "--project", str(project), *args],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"tuneui {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout) if "--json" in args else {}


def main() -> int:
    args = sys.argv[1:]
    budget = "2.9"  # the demo's ([local] time_budget_minutes in tuneui/data/demo/tuneui.toml)
    if "--budget" in args:
        budget = args.pop(args.index("--budget") + 1)
        args.remove("--budget")
    project = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="tuneui-second-")) / "routing"
    sys.path.insert(0, str(ROOT))
    from backends.local.models import ensure_embedded_model

    model, _ = ensure_embedded_model()
    from tuneui.core.workspace import init_workspace

    workspace = init_workspace(project)
    settings = workspace.settings()
    settings.models.local = str(model)
    settings.local.time_budget_minutes = float(budget)
    workspace.save_settings(settings)
    data = project / "routing.jsonl"
    data.write_text("".join(json.dumps(e) + "\n" for e in examples()), encoding="utf-8")
    tuneui(project, "data", "import", str(data))
    tuneui(project, "data", "split")
    baseline = tuneui(project, "baseline", "--backend", "local", "--shots", "3", "--json")
    train = tuneui(project, "train", "--backend", "local", "--wait", "--json")
    result = tuneui(project, "eval", train["run_id"], "--json")
    print(f"baseline variants: {json.dumps(baseline['variants'])}")
    print(f"plan: {json.dumps({k: v for k, v in train['plan'].items() if k != 'reasons'})}")
    print(f"comparison: {json.dumps(result['comparison'])}")
    print(f"stopped on their own: {json.dumps(result['stopped_on_their_own'])}")
    print(f"verdict: {result['verdict']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
