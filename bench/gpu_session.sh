#!/usr/bin/env bash
# Every GPU figure of docs/benchmarks.md in one run of under 10 minutes on one H100/H200-class GPU.
#
#   bench/gpu_session.sh --fetch-wheels   # here, where PyPI answers: what the GPU machine lacks, into .whl/
#   bench/gpu_session.sh                  # on the GPU machine: installs .whl/*.whl, runs, writes to $OUT
#   bench/gpu_session.sh --cpu-smoke      # here: the same steps on the CPU with tiny configs
#
# Results (at most 7 files) go to $OUT, or bench/out/ when OUT is unset. Each step has its own time
# limit, so one that hangs cannot eat the others' time; each JSON file is written as results arrive.
# The limits add up to about 9.5 minutes. ONLY=memory,throughput-1b (for example) runs just those.
set -uo pipefail
cd "$(dirname "$0")/.."

# The GPU image has torch, triton, accelerate, peft, pyarrow and transformers 5.17; the recipe needs
# transformers >= 5.2x (SFTConfig's activation_checkpointing) and these. About 57 MiB together.
WHEELS=(transformers==5.24.0 trl==1.16.0 peft==0.21.2 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19
        bitsandbytes==0.50.2 liger-kernel==0.8.5)
PY=${PYTHON:-python3}
mode=${1:-gpu}

if [ "$mode" = --fetch-wheels ]; then
  mkdir -p .whl
  for wheel in "${WHEELS[@]}"; do
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 -d .whl "$wheel" || exit 1
  done
  du -sh .whl
  exit 0
fi

OUT=${OUT:-bench/out}
mkdir -p "$OUT"
if [ "$mode" != --cpu-smoke ] && compgen -G ".whl/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false TRANSFORMERS_VERBOSITY=error
MODELS=/tmp/tuneui-bench-models  # the 8B checkpoint is built once and shared by both benchmarks

step() {  # step NAME SECONDS COMMAND...: run with a time limit, keep its log, never stop the session
  local name=$1 limit=$2
  shift 2
  case ",${ONLY:-$name}," in *",$name,"*) ;; *) echo "== $name: skipped (ONLY=$ONLY)"; return;; esac
  echo "== $name (limit ${limit}s): $*"
  timeout "$limit" "$@" 2>&1 | grep --line-buffered -v -E "Loading weights|Writing model|it/s\]$" | tee "$OUT/$name.log"
  echo "== $name: exit ${PIPESTATUS[0]} after ${SECONDS}s of the session"
}

"$PY" - <<'EOF' 2>&1 | tee "$OUT/env.log"
import importlib, importlib.metadata as md, sys
sys.path.insert(0, ".")
for name in ("torch", "transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets", "pyarrow",
             "liger-kernel", "triton", "flash-attn", "unsloth"):
    try:
        print(f"{name:14s} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name:14s} not installed")
import torch
from backends.local.kernels import choose_kernels, probe_machine
cuda = torch.cuda.is_available()
capability = float("{}.{}".format(*torch.cuda.get_device_capability())) if cuda else None
print("gpu", torch.cuda.get_device_name() if cuda else "none", capability)
print("kernels for llama:", choose_kernels(probe_machine(cuda, capability), "llama"))
EOF

if [ "$mode" = --cpu-smoke ]; then
  step throughput-smoke 600 "$PY" bench/train_throughput.py --cpu-smoke --size tiny-llama --work "$MODELS" --json "$OUT/throughput-smoke.json"
  step memory-smoke 300 "$PY" bench/memory_estimate.py --cpu-smoke --work "$MODELS" --json "$OUT/memory-smoke.json"
else
  # The goal first: 8B QLoRA, tuneui (pinned to NF4, the same memory class) vs plain trl vs Unsloth.
  step throughput-8b 260 "$PY" bench/train_throughput.py --size llama-3.1-8b --quantization nf4 --steps 20 --warmup 4 \
    --timeout 95 --work "$MODELS" --json "$OUT/throughput-8b.json"
  # Estimate vs measured peak, QLoRA and bf16 LoRA, 512 and 2,048 tokens, smallest model first.
  step memory 200 "$PY" bench/memory_estimate.py --models qwen2.5-0.5b,llama-3.2-1b,llama-3.1-8b --steps 2 \
    --work "$MODELS" --json "$OUT/memory.json"
  step throughput-1b 100 "$PY" bench/train_throughput.py --size llama-3.2-1b --steps 20 --warmup 4 --timeout 40 \
    --work "$MODELS" --json "$OUT/throughput-1b.json"
fi
rm -rf "$MODELS"
echo "== session done in ${SECONDS}s; results in $OUT"
