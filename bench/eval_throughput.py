"""Throughput of `orca-eval run` end to end vs a bare batched `model.generate` loop.

Same tiny checkpoint, same prompts (the exact strings the run sends), same greedy
decoding and batch size, measured in the same process one after the other. Also,
where lm-eval's CLI can run our task YAML, `orca-eval run` vs `lm_eval` as
subprocesses (both paying their start-up). Last line: one JSON object.

    python bench/eval_throughput.py [--task bbh/navigate] [--n 128] [--new-tokens 64]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bare_generate(ckpt: Path, prompts: list[str], batch: int, new_tokens: int) -> float:
    """Seconds for: load model+tokenizer, then a plain batched greedy generate loop."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(ckpt)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(ckpt).eval()
    with torch.no_grad():
        for i in range(0, len(prompts), batch):
            enc = tok(prompts[i: i + batch], return_tensors="pt", padding=True)
            out = model.generate(**enc, max_new_tokens=new_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id)
            tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="bbh/navigate")
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--skip-lm-eval-cli", action="store_true")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="orca-bench-"))
    os.environ["ORCA_CACHE_DIR"] = str(work / "cache")
    from harness.cli import _quiet_libraries
    _quiet_libraries()
    from harness.data import load_task_data
    from harness.prompts import user_prompt
    from harness.runner import RunConfig, run_evaluation
    from orca.paths import data_dir
    from orca.template import render_prompt
    from orca.tiny import make_tiny_llama

    ckpt = make_tiny_llama(work / "tiny", seed=0)
    docs = load_task_data(args.task, str(data_dir())).docs[: args.n]
    prompts = [render_prompt(user_prompt(args.task, d), "") for d in docs]
    n = len(prompts)

    cfg = RunConfig(suite=args.task, model=f"hf:{ckpt}", limit=n, batch_size=args.batch,
                    max_new_tokens=args.new_tokens, output=str(work / "run"), progress=False)
    # Both sides decode greedily up to new_tokens and stop a batch when every sequence
    # has ended, so they do the same work. Warm up both once (imports, kernels): the
    # timed part is loading the model and the data, generating, scoring and writing.
    bare_generate(ckpt, prompts[:2], 2, 2)
    run_evaluation(RunConfig(suite=args.task, model=f"hf:{ckpt}", limit=2, batch_size=2, max_new_tokens=2,
                             output=str(work / "warmup"), progress=False))
    t0 = time.perf_counter()
    run_evaluation(cfg)
    ours = time.perf_counter() - t0
    shutil.rmtree(work / "cache")
    base = bare_generate(ckpt, prompts, args.batch, args.new_tokens)
    out = {"task": args.task, "examples": n, "new_tokens": args.new_tokens, "batch_size": args.batch,
           "orca_eval_ex_per_s": round(n / ours, 2), "bare_generate_ex_per_s": round(n / base, 2),
           "ratio_vs_generate": round(base / ours, 3)}
    print(f"orca-eval run: {n / ours:.2f} ex/s   bare model.generate loop: {n / base:.2f} ex/s")

    lm_eval_bin = Path(sys.executable).parent / "lm_eval"
    if not args.skip_lm_eval_cli and lm_eval_bin.exists():
        env = {**os.environ, "ORCA_DATA_DIR": str(data_dir()), "ORCA_CACHE_DIR": str(work / "cache2")}
        name = "orca_" + args.task.replace("/", "_").replace("-", "_")
        cmd_ours = [sys.executable, "-m", "harness.cli", "run", "--suite", args.task, "--model", f"hf:{ckpt}",
                    "--limit", str(n), "--batch-size", str(args.batch), "--max-new-tokens", str(args.new_tokens),
                    "--output", str(work / "run2"), "--no-progress", "--system-message", "none"]
        cmd_lm = [str(lm_eval_bin), "--model", "hf", "--model_args", f"pretrained={ckpt}", "--device", "cpu",
                  "--include_path", str(ROOT / "tasks"), "--tasks", name, "--limit", str(n),
                  "--batch_size", str(args.batch), "--gen_kwargs", f"max_gen_toks={args.new_tokens}",
                  "--output_path", str(work / "lm_eval_out")]
        t0 = time.perf_counter()
        r1 = subprocess.run(cmd_ours, env=env, capture_output=True, text=True, cwd=ROOT)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        r2 = subprocess.run(cmd_lm, env=env, capture_output=True, text=True, cwd=ROOT)
        t_lm = time.perf_counter() - t0
        if r1.returncode == 0 and r2.returncode == 0:
            out["lm_eval_cli_s"], out["orca_eval_cli_s"] = round(t_lm, 2), round(t_ours, 2)
            out["ratio_vs_lm_eval_cli"] = round(t_lm / t_ours, 3)
            print(f"CLI wall time: orca-eval {t_ours:.1f} s, lm_eval {t_lm:.1f} s")
        else:
            out["lm_eval_cli_error"] = (r1.stderr if r1.returncode else r2.stderr).strip().splitlines()[-1:]
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
