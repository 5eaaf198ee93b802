"""Effective training throughput: our packed trainer vs plain Hugging Face `Trainer`.

Same tiny LLaMA (hidden 64, 2 layers, vocabulary 32001), same examples, one epoch
each, similar real tokens per optimizer step:

- baseline: `transformers.Trainer`, batches of examples padded to the longest in the batch
  (DataCollatorForSeq2Seq), loss over the labels (-100 on prompt and padding);
- ours: orca.train (best-fit-decreasing packing into rows of `--max-len`, block-diagonal
  mask, LM head only at target positions);
- ours without the target-only head (full-vocabulary logits at every position), to show
  what packing alone buys.

Effective tokens/s counts real (unpadded) tokens only. Example lengths follow a long
tail like teacher explanations (lognormal, clipped to max_len). Prints figures and, last,
one JSON line. Usage: python bench/train_throughput.py [--examples 384] [--max-len 512]
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from orca.packing import pack_examples  # noqa: E402
from orca.tokenize import IGNORE_INDEX  # noqa: E402


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


def run_hf_trainer(model_dir: Path, examples: list[dict], batch: int, out: Path) -> dict:
    from datasets import Dataset
    from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer,
                              TrainingArguments)

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="sdpa")
    ds = Dataset.from_list([{"input_ids": e["input_ids"], "labels": e["labels"],
                             "attention_mask": [1] * len(e["input_ids"])} for e in examples])
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=batch, num_train_epochs=1,
                             learning_rate=1e-3, lr_scheduler_type="cosine", warmup_steps=0,
                             save_strategy="no", report_to=[], logging_steps=10 ** 9, use_cpu=True,
                             dataloader_num_workers=0, disable_tqdm=True, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=ds,
                      data_collator=DataCollatorForSeq2Seq(tok, padding="longest", label_pad_token_id=IGNORE_INDEX))
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    real = sum(len(e["input_ids"]) for e in examples)
    padded = sum(max(len(e["input_ids"]) for e in examples[i:i + batch]) * len(examples[i:i + batch])
                 for i in range(0, len(examples), batch))  # Trainer shuffles; this is the expected order's figure
    return {"seconds": round(seconds, 2), "real_tokens": real, "tokens_per_s": round(real / seconds, 1),
            "padding_efficiency_unshuffled": round(real / padded, 4)}


def run_ours(model_dir: Path, examples: list[dict], rows_per_batch: int, max_len: int, out: Path,
             full_head: bool = False) -> dict:
    import orca.train as T
    from orca.train_config import parse_train_config

    data = out / "data.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    # Feed the exact token ids: a tokenizer round trip would change lengths.
    original = T.prepare_data

    def prepare_data(stage, tokenizer, seed):
        rows, stats = pack_examples(examples, stage.max_len, seed=seed)
        return [rows], {"files": [], "tokenize": {"truncated": 0}, "packing": stats, "packing_per_epoch": [stats]}

    original_loss = T.token_loss_sum

    def full_head_loss(model, batch):
        inputs = {k: v for k, v in batch.items() if k not in ("labels", "n_real")}
        logits = model(**inputs, use_cache=False).logits
        targets = batch["labels"][:, 1:]
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]),
                                                 targets.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum")
        return loss, int((targets != IGNORE_INDEX).sum())

    data.write_text("")
    cfg = parse_train_config({"output_dir": str(out / "run"), "log_every": 10 ** 6, "attn_implementation": "sdpa",
                              "device": "cpu",
                              "stages": [{"name": "bench", "data": str(data), "init": str(model_dir), "epochs": 1,
                                          "lr": 1e-3, "batch_size": rows_per_batch, "max_len": max_len,
                                          "warmup_steps": 1}]}, out / "bench.yaml")
    T.prepare_data = prepare_data
    T.token_loss_sum = full_head_loss if full_head else original_loss
    from rich.console import Console
    try:
        T.train(cfg, console=Console(stderr=True, quiet=True))
    finally:
        T.prepare_data, T.token_loss_sum = original, original_loss
    last = [json.loads(line) for line in (out / "run" / "bench" / "metrics.jsonl").read_text().splitlines()][-1]
    real = sum(len(e["input_ids"]) for e in examples)
    return {"seconds": round(real / last["tokens_per_s"], 2), "real_tokens": real,
            "tokens_per_s": last["tokens_per_s"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=384)
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--hf-batch", type=int, default=8, help="examples per batch for the padded baseline")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    from orca.tiny import make_tiny_llama

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = make_tiny_llama(tmp / "tiny", seed=0)
        examples = make_examples(args.examples, args.max_len, args.seed)
        _, pack = pack_examples(examples, args.max_len, seed=args.seed)
        # Rows per batch with about as many real tokens per step as the baseline's batch.
        mean_len = sum(len(e["input_ids"]) for e in examples) / len(examples)
        rows_per_batch = max(1, round(args.hf_batch * mean_len / (pack["efficiency"] * args.max_len)))
        # Packing at the paper's 2048 on a bigger sample of the same length distribution.
        big = make_examples(20000, 2048, args.seed + 1)
        _, pack2048 = pack_examples(big, 2048, seed=args.seed)

        hf = run_hf_trainer(model_dir, examples, args.hf_batch, tmp / "hf")
        ours = run_ours(model_dir, examples, rows_per_batch, args.max_len, tmp / "ours")
        packed_only = run_ours(model_dir, examples, rows_per_batch, args.max_len, tmp / "ours-full", full_head=True)

    figures = {
        "bench": "train_throughput",
        "examples": args.examples,
        "max_len": args.max_len,
        "hf_trainer_padded_tokens_per_s": hf["tokens_per_s"],
        "ours_packed_tokens_per_s": ours["tokens_per_s"],
        "ours_packed_full_head_tokens_per_s": packed_only["tokens_per_s"],
        "ratio_vs_hf_trainer": round(ours["tokens_per_s"] / hf["tokens_per_s"], 2),
        "ratio_packing_only": round(packed_only["tokens_per_s"] / hf["tokens_per_s"], 2),
        "packing_factor": pack["packing_factor"],
        "packing_efficiency": pack["efficiency"],
        "hf_padding_efficiency": hf["padding_efficiency_unshuffled"],
        "packing_factor_2048": pack2048["packing_factor"],
        "packing_efficiency_2048": pack2048["efficiency"],
        "rows_per_batch": rows_per_batch,
        "hf_batch": args.hf_batch,
        "torch_threads": torch.get_num_threads(),
    }
    for k, v in figures.items():
        print(f"{k:36s} {v}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
