#!/usr/bin/env bash
# Installs tuneui with its test extras into .venv and runs the whole suite.
# pytest exits 5 when it collected no test: that must fail, so it is not masked here.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c ci/constraints.txt torch==2.13.0
.venv/bin/python -m pip install -q -c ci/constraints.txt -e ".[test]"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest "$@"
