"""Effective training throughput: our packed trainer vs plain Hugging Face `Trainer`.

Same random-init LLaMA (`--model-size`: tiny = hidden 64, 2 layers; 160m = hidden 768,
12 layers; 1b = hidden 2048, 22 layers, 32 heads, 4 KV heads, intermediate 5632; all
with vocabulary 32001), same examples, one epoch each, similar real tokens per
optimizer step:

- baseline: `transformers.Trainer`, batches of examples padded to the longest in the batch
  (DataCollatorForSeq2Seq), loss over the labels (-100 on prompt and padding);
- ours: orca.train (best-fit-decreasing packing into rows of `--max-len`, attention kept
  inside examples -- on CPU a dense block mask with SDPA, on CUDA a FlexAttention document
  mask or flash-attn varlen --, LM head only at target positions);
- ours without the target-only head (full-vocabulary logits at every position), to show
  what packing alone buys.

Effective tokens/s counts real (unpadded) tokens only. Example lengths follow a long
tail like teacher explanations (lognormal, clipped to max_len). On CUDA both sides use
bf16 autocast over fp32 weights and get a short warm-up run first (kernel compilation
is not timed), and the model FLOPs utilisation is printed:

    MFU = (6 * N * tokens/s + attention FLOPs/s) / peak

N counts the weights of the matrix products a token goes through (every linear layer,
the LM head included; not the embedding lookup); attention FLOPs are those of causal
attention inside each example, 6 * layers * hidden * L * (L + 1) for an example of
L tokens (QK^T and AV, forward and backward). The peak is the bf16 dense figure for
the detected GPU (PEAK_BF16_TFLOPS) or `--peak-tflops`. Prints figures and, last, one
JSON line. Usage:

    .venv/bin/python bench/train_throughput.py [--examples 384] [--max-len 512]          # CPU, tiny model
    .venv/bin/python bench/train_throughput.py --device cuda --model-size 1b --examples 768 --max-len 2048
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from orca.checkpointing import StageCheckpoints  # noqa: E402
from orca.packing import MODEL_INPUTS, pack_examples  # noqa: E402
from orca.tokenize import IGNORE_INDEX  # noqa: E402

# Model shapes (LLaMA; the tokenizer adds [[PAD]] -> vocabulary 32001). Untied embeddings
# for the bigger two, as LLaMA / TinyLlama have them.
MODEL_SIZES = {
    "tiny": {},  # orca.tiny.TINY_CONFIG
    "160m": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                 num_key_value_heads=12, tie_word_embeddings=False),
    "1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
               num_key_value_heads=4, tie_word_embeddings=False),
}
# Dense bf16 tensor-core peaks from the vendor's data sheets, TFLOP/s (first match wins).
PEAK_BF16_TFLOPS = [("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("GH200", 989.0),
                    ("A100", 312.0), ("L40S", 362.0)]


def make_examples(n: int, max_len: int, seed: int) -> list[dict]:
    """Token-id examples: a prompt (masked) and a longer response (targets)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = min(max_len, max(16, int(rng.lognormvariate(math.log(max_len / 5), 0.8))))
        prompt = max(4, int(length * rng.uniform(0.2, 0.5)))
        ids = [1] + [rng.randrange(3, 32000) for _ in range(length - 2)] + [2]
        out.append({"input_ids": ids, "labels": [IGNORE_INDEX] * prompt + ids[prompt:]})
    return out


def run_hf_trainer(model_dir: Path, examples: list[dict], batch: int, out: Path, device: str = "cpu",
                   bf16: bool = False, grad_accum: int = 1) -> dict:
    from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer,
                              TrainingArguments)

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="sdpa", dtype=torch.float32)
    # A plain list is a map-style dataset for Trainer: no `datasets` package needed (GPU images may lack it).
    ds = [{"input_ids": e["input_ids"], "labels": e["labels"], "attention_mask": [1] * len(e["input_ids"])}
          for e in examples]
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=batch, num_train_epochs=1,
                             learning_rate=1e-3, lr_scheduler_type="cosine", warmup_steps=0,
                             save_strategy="no", report_to=[], logging_steps=10 ** 9, use_cpu=device == "cpu",
                             bf16=bf16, gradient_accumulation_steps=grad_accum,
                             dataloader_num_workers=0, disable_tqdm=True, seed=0,
                             remove_unused_columns=False)
    trainer = Trainer(model=model, args=args, train_dataset=ds,
                      data_collator=DataCollatorForSeq2Seq(tok, padding="longest", label_pad_token_id=IGNORE_INDEX))
    _reset_peak_memory(device)
    t0 = time.perf_counter()
    trainer.train()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    peak_gb = _peak_memory_gb(device)
    del trainer, model
    _free(device)
    real = sum(len(e["input_ids"]) for e in examples)
    padded = sum(max(len(e["input_ids"]) for e in examples[i:i + batch]) * len(examples[i:i + batch])
                 for i in range(0, len(examples), batch))  # Trainer shuffles; this is the expected order's figure
    return {"seconds": round(seconds, 2), "real_tokens": real, "tokens_per_s": round(real / seconds, 1),
            "padding_efficiency_unshuffled": round(real / padded, 4), "peak_memory_gb": peak_gb}


class _NoSaves(StageCheckpoints):
    """Checkpoints are written after the last step's tokens/s is taken, so they are not part
    of the figure; skipping them saves minutes on the 1B shape (its optimizer state is 13 GB)."""

    def save(self, *args, **kwargs) -> None:
        pass


def _full_head_loss(model, batch):
    """Logits at every position, then the targets picked out (what packing alone buys)."""
    logits = model(**{k: batch[k] for k in MODEL_INPUTS if k in batch}, use_cache=False).logits
    picked = logits.flatten(0, 1).index_select(0, batch["target_index"]).float()
    return torch.nn.functional.cross_entropy(picked, batch["target_ids"], reduction="sum"), picked.shape[0]


def run_ours(model_dir: Path, examples: list[dict], rows_per_batch: int, max_len: int, out: Path,
             full_head: bool = False, device: str = "cpu", bf16: bool = False, attn: str = "auto",
             compile: bool = False, grad_accum: int = 1) -> dict:
    from rich.console import Console

    from orca.train import token_loss_sum, train_stage
    from orca.train_config import parse_train_config

    out.mkdir(parents=True, exist_ok=True)
    data = out / "data.jsonl"
    data.write_text("")  # the config names a data file; the `data` part below replaces reading it

    def packed_examples(stage, tokenizer, seed):  # the exact token ids: a tokenizer round trip would change lengths
        rows, stats = pack_examples(examples, stage.max_len, seed=seed)
        return [rows], {"files": [], "tokenize": {"truncated": 0}, "packing": stats, "packing_per_epoch": [stats]}

    cfg = parse_train_config({"output_dir": str(out / "run"), "log_every": 10 ** 6, "attn_implementation": attn,
                              "device": device, "bf16": bf16, "compile": compile,
                              "stages": [{"name": "bench", "data": str(data), "init": str(model_dir), "epochs": 1,
                                          "lr": 1e-3, "batch_size": rows_per_batch, "max_len": max_len,
                                          "grad_accum": grad_accum,
                                          "warmup_steps": 1}]}, out / "bench.yaml")
    stage = cfg.stages[0]
    _reset_peak_memory(device)
    train_stage(cfg, stage, data=packed_examples, loss_fn=_full_head_loss if full_head else token_loss_sum,
                checkpoints=_NoSaves(cfg.output_dir / stage.name), console=Console(stderr=True, quiet=True))
    last = [json.loads(line) for line in (cfg.output_dir / stage.name / "metrics.jsonl").read_text().splitlines()][-1]
    real = sum(len(e["input_ids"]) for e in examples)
    peak_gb = _peak_memory_gb(device)
    _free(device)
    return {"seconds": round(real / last["tokens_per_s"], 2), "real_tokens": real,
            "tokens_per_s": last["tokens_per_s"], "loss": last["loss"], "peak_memory_gb": peak_gb}


def _reset_peak_memory(device: str) -> None:
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _peak_memory_gb(device: str) -> float | None:
    return round(torch.cuda.max_memory_allocated() / 1e9, 2) if device == "cuda" else None


def _free(device: str) -> None:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


def matmul_params(model_dir: Path) -> tuple[int, dict]:
    """Weights of the linear layers (LM head included), and the model config."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    n = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    return n, config.to_dict()


def flops_per_token(n_matmul: int, config: dict, examples: list[dict]) -> float:
    """Training FLOPs per real token: 6N, plus causal attention inside each example."""
    lengths = [len(e["input_ids"]) for e in examples]
    attention = sum(6 * config["num_hidden_layers"] * config["hidden_size"] * n * (n + 1) for n in lengths)
    return 6 * n_matmul + attention / sum(lengths)


def peak_tflops(device: str, override: float | None) -> tuple[float | None, str]:
    if override:
        return override, "--peak-tflops"
    if device != "cuda":
        return None, "cpu"
    name = torch.cuda.get_device_name()
    for key, tflops in PEAK_BF16_TFLOPS:
        if key in name:
            return tflops, name
    return None, name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=384)
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--hf-batch", type=int, default=8, help="examples per batch for the padded baseline")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--model-size", choices=tuple(MODEL_SIZES), default="tiny")
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                    help="bf16 autocast on both sides (default: on for cuda, off for cpu)")
    ap.add_argument("--attn", default="auto", help="ours: attn_implementation (default auto)")
    ap.add_argument("--compile", action="store_true", help="ours: compile: true (torch.compile of the decoder)")
    ap.add_argument("--rows-per-batch", type=int, default=None,
                    help="ours: packed rows per micro-batch (default: about the baseline's real tokens per step)")
    ap.add_argument("--peak-tflops", type=float, default=None, help="the accelerator's peak, for MFU")
    ap.add_argument("--tokenizer", default=None, help="tokenizer folder (default: the data dir's tokenizer/)")
    ap.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step, both sides")
    ap.add_argument("--hf-tokens-per-s", type=float, default=None,
                    help="reuse a Trainer figure measured on this machine with the same arguments (skips its run)")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("orca-eval: error: --device cuda: no CUDA device is available", file=sys.stderr)
        return 2
    bf16 = args.device == "cuda" if args.bf16 is None else args.bf16
    torch.manual_seed(args.seed)
    from orca.tiny import make_tiny_llama

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = make_tiny_llama(tmp / "model", seed=0, tokenizer_path=args.tokenizer,
                                    **MODEL_SIZES[args.model_size])
        n_matmul, model_config = matmul_params(model_dir)
        examples = make_examples(args.examples, args.max_len, args.seed)
        _, pack = pack_examples(examples, args.max_len, seed=args.seed)
        # Rows per batch with about as many real tokens per step as the baseline's batch.
        mean_len = sum(len(e["input_ids"]) for e in examples) / len(examples)
        rows_per_batch = args.rows_per_batch or max(
            1, round(args.hf_batch * mean_len / (pack["efficiency"] * args.max_len)))
        # Packing at the paper's 2048 on a bigger sample of the same length distribution.
        big = make_examples(20000, 2048, args.seed + 1)
        _, pack2048 = pack_examples(big, 2048, seed=args.seed)

        side = dict(device=args.device, bf16=bf16, grad_accum=args.grad_accum)
        ours_opts = dict(side, attn=args.attn, compile=args.compile)
        if args.device == "cuda":  # warm-up: cuBLAS handles, FlexAttention / torch.compile kernels
            few = examples[:max(4 * args.hf_batch, 8 * rows_per_batch)]
            if not args.hf_tokens_per_s:
                run_hf_trainer(model_dir, few[:2 * args.hf_batch], args.hf_batch, tmp / "hf-warm", **side)
            run_ours(model_dir, few, rows_per_batch, args.max_len, tmp / "ours-warm", **ours_opts)
            run_ours(model_dir, few, rows_per_batch, args.max_len, tmp / "ours-full-warm", full_head=True,
                     **ours_opts)
        if args.hf_tokens_per_s:
            hf = {"tokens_per_s": args.hf_tokens_per_s, "peak_memory_gb": None, "reused": True,
                  "padding_efficiency_unshuffled": None}
        else:
            hf = run_hf_trainer(model_dir, examples, args.hf_batch, tmp / "hf", **side)
        ours = run_ours(model_dir, examples, rows_per_batch, args.max_len, tmp / "ours", **ours_opts)
        packed_only = run_ours(model_dir, examples, rows_per_batch, args.max_len, tmp / "ours-full", full_head=True,
                               **ours_opts)

    from orca.train_setup import choose_attention
    attention = choose_attention(args.attn, torch.device(args.device))
    flops = flops_per_token(n_matmul, model_config, examples)
    peak, peak_source = peak_tflops(args.device, args.peak_tflops)

    def mfu(tokens_per_s):
        return round(tokens_per_s * flops / (peak * 1e12), 4) if peak else None

    figures = {
        "bench": "train_throughput",
        "device": args.device,
        "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
        "model_size": args.model_size,
        "matmul_params": n_matmul,
        "bf16": bf16,
        "attention": attention,
        "compile": args.compile,
        "examples": args.examples,
        "max_len": args.max_len,
        "hf_trainer_padded_tokens_per_s": hf["tokens_per_s"],
        "ours_packed_tokens_per_s": ours["tokens_per_s"],
        "ours_packed_full_head_tokens_per_s": packed_only["tokens_per_s"],
        "ratio_vs_hf_trainer": round(ours["tokens_per_s"] / hf["tokens_per_s"], 2),
        "ratio_packing_only": round(packed_only["tokens_per_s"] / hf["tokens_per_s"], 2),
        "flops_per_token": round(flops),
        "peak_tflops": peak,
        "peak_source": peak_source,
        "mfu_ours": mfu(ours["tokens_per_s"]),
        "mfu_hf_trainer": mfu(hf["tokens_per_s"]),
        "tflops_ours": round(ours["tokens_per_s"] * flops / 1e12, 4),
        "peak_memory_gb_ours": ours["peak_memory_gb"],
        "peak_memory_gb_hf_trainer": hf["peak_memory_gb"],
        "final_loss_ours": ours["loss"],
        "packing_factor": pack["packing_factor"],
        "packing_efficiency": pack["efficiency"],
        "hf_padding_efficiency": hf["padding_efficiency_unshuffled"],
        "packing_factor_2048": pack2048["packing_factor"],
        "packing_efficiency_2048": pack2048["efficiency"],
        "rows_per_batch": rows_per_batch,
        "hf_batch": args.hf_batch,
        "grad_accum": args.grad_accum,
        "hf_trainer_figure_reused": bool(hf.get("reused")),
        "torch_threads": torch.get_num_threads(),
    }
    for k, v in figures.items():
        print(f"{k:36s} {v}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
