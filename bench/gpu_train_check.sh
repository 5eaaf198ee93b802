#!/usr/bin/env bash
# The training checks that need a CUDA GPU, in one command (docs/training.md, "GPU check").
#
#   bash bench/gpu_train_check.sh [RESULTS_DIR]
#
# 1. tests/test_train_gpu.py: FlexAttention keeps packed examples
#    apart (compiled kernel, forward and backward), `auto` picks it without flash-attn, and a
#    training step does not wait for the GPU;
# 2. bench/train_throughput.py on the 160M and the 1B shape (max_len 2048, 768 examples, bf16):
#    tokens/s against transformers.Trainer, MFU; then the 1B shape with `compile: true`.
#
# Needs torch, transformers, accelerate, rich, pyyaml, sentencepiece, pytest; not lm-eval,
# datasets, openai or deepspeed. The tokenizer comes from $ORCA_DATA_DIR/tokenizer, else the
# first of .gpu/data, shared/data, ../shared/data that has one. Each step's log and the
# benchmark's JSON lines go to RESULTS_DIR (default $OUT, else results/gpu-train-check) as
# they finish, so a run stopped at its time limit still leaves what it measured.
# About 7-9 minutes on one H100/H200 (an estimate: run it with a 600 s limit).
# Exit status: 1 if a test or a benchmark failed, 2 without a tokenizer.
set -u -o pipefail
cd "$(dirname "$0")/.."
RESULTS=${1:-${OUT:-results/gpu-train-check}}
mkdir -p "$RESULTS"
# the project's virtual environment (README set-up) unless PYTHON names another; no bare `python`,
# which a machine with only python3 lacks
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
export ORCA_CACHE_DIR=${ORCA_CACHE_DIR:-/tmp/orca-gpu-check-cache}
if [ -z "${ORCA_DATA_DIR:-}" ]; then
  for d in .gpu/data shared/data ../shared/data; do
    if [ -f "$d/tokenizer/tokenizer.model" ]; then export ORCA_DATA_DIR="$PWD/$d"; break; fi
  done
fi
if [ -z "${ORCA_DATA_DIR:-}" ] || [ ! -f "$ORCA_DATA_DIR/tokenizer/tokenizer.model" ]; then
  echo "orca-eval: error: no tokenizer: set ORCA_DATA_DIR to a folder holding tokenizer/tokenizer.model" >&2
  exit 2
fi

status=0
"$PY" - <<'EOF' 2>&1 | tee "$RESULTS/environment.txt"
import importlib.util, torch, transformers, accelerate
print("torch", torch.__version__, "| transformers", transformers.__version__, "| accelerate", accelerate.__version__)
print("cuda", torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else "-")
for name in ("flash_attn", "datasets", "lm_eval", "deepspeed", "openai"):
    print(name, "installed" if importlib.util.find_spec(name) else "absent")
EOF

echo "== tests" | tee -a "$RESULTS/summary.txt"
"$PY" -m pytest -q -x -p no:cacheprovider tests/test_train_gpu.py 2>&1 \
  | tee "$RESULTS/tests.log" | tail -n 3 | tee -a "$RESULTS/summary.txt" || status=1

bench() {  # NAME ARGS...: one benchmark; its last line (JSON) is appended to bench.jsonl
  local name=$1; shift
  echo "== bench $name: $*" | tee -a "$RESULTS/summary.txt"
  if "$PY" bench/train_throughput.py --device cuda --examples 768 --max-len 2048 "$@" \
       > "$RESULTS/bench_$name.log" 2>&1; then
    tail -n 1 "$RESULTS/bench_$name.log" | tee -a "$RESULTS/bench.jsonl" "$RESULTS/summary.txt"
  else
    status=1
    tail -n 20 "$RESULTS/bench_$name.log" | tee -a "$RESULTS/summary.txt"
  fi
}
# 4 micro-batches per optimizer step on both sides: with ~4K real tokens per micro-batch, AdamW's
# pass over 1.1B fp32 weights would otherwise cost a third as much as the step's matrix products.
bench 160m --model-size 160m --grad-accum 4
bench 1b --model-size 1b --grad-accum 4
# Compiled: the Trainer figure of the run above is reused (same machine, same arguments).
hf=$("$PY" -c 'import json, sys; print(json.loads(sys.stdin.read().splitlines()[-1])["hf_trainer_padded_tokens_per_s"])' \
     < "$RESULTS/bench_1b.log" 2>/dev/null)
bench 1b-compile --model-size 1b --grad-accum 4 --compile ${hf:+--hf-tokens-per-s $hf}
exit $status
