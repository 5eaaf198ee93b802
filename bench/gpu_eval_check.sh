#!/usr/bin/env bash
# GPU check of `orca-eval run` throughput (issue 10): make a 1.1B random LLaMA-shape
# checkpoint in bf16 (hidden 2048, 22 layers, 32 heads, 4 KV heads, intermediate 5632,
# the project's tokenizer) and run the suite bench on it: BBH, 27 tasks x 16 examples,
# batch 64, 64 new tokens, greedy. Prints the bench's JSON line last (ratio_vs_bare,
# ratio_vs_lm_eval). Goal on one GPU: ratio_vs_bare >= 0.9.
#
#   ORCA_DATA_DIR=/path/to/data bash bench/gpu_eval_check.sh [extra bench flags]
#
# Needs: a CUDA GPU (~10 GB free), the project's Python environment, and the benchmark
# data ($ORCA_DATA_DIR or ../shared/data: bbh/*.json and tokenizer/). Takes a few minutes;
# the checkpoint (2.2 GB) is made once under $ORCA_GPU_CHECK_DIR (default /tmp/orca-gpu-check).
set -euo pipefail
cd "$(dirname "$0")/.."
# the project's virtual environment (README set-up) unless PYTHON names another; no bare `python`,
# which a machine with only python3 lacks
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
OUT=${ORCA_GPU_CHECK_DIR:-/tmp/orca-gpu-check}
CKPT="$OUT/llama-1.1b-random-bf16"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA GPU visible")'
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true

if [ ! -f "$CKPT/config.json" ]; then
  "$PY" - "$CKPT" <<'PY'
import sys
import torch
from orca.tiny import make_tiny_llama

torch.set_default_dtype(torch.bfloat16)  # initialise and save in bf16 (2.2 GB, not 4.4)
make_tiny_llama(sys.argv[1], seed=0, hidden_size=2048, num_hidden_layers=22, num_attention_heads=32,
                num_key_value_heads=4, intermediate_size=5632,
                tie_word_embeddings=False, torch_dtype="bfloat16")
print("made", sys.argv[1])
PY
fi

"$PY" bench/eval_throughput.py --suite bbh --limit 16 --batch 64 --new-tokens 64 \
  --model "$CKPT" --device cuda --dtype bfloat16 "$@"
