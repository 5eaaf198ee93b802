"""bench/decode_floor.py: the schedule it records is the engine's own, and its replay times it.

The floor is a claim about the limit ("no loop on these kernels runs this schedule faster"),
so what it replays must be exactly the forwards the engine ran: one decode entry per step
with the rows in flight, one prefill entry per prefill forward."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.decode_floor import record_schedule, replay_floor  # noqa: E402
from harness.models import engine as engine_module  # noqa: E402


def test_schedule_is_the_engines_and_replays(tiny_checkpoint):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_checkpoint)
    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint, dtype=torch.float32).eval()
    eos = model.generation_config.eos_token_id
    eng = engine_module.GenerationEngine(model, tok, encode=lambda p: tok(p)["input_ids"], max_length=2048,
                                         eos_token_ids=[eos] if isinstance(eos, int) else eos,
                                         device=torch.device("cpu"), batch_size=2)
    prompts = ["Hello there", "Q: 2 + 2 = ?", "A longer prompt about many things " * 3]
    write = engine_module.SlotKV.write
    with record_schedule() as schedule:
        eng.generate(prompts, max_new_tokens=6, stop=[])
    assert engine_module.SlotKV.write is write  # restored
    assert len(schedule["decode"]) == eng.stats.steps
    assert len(schedule["prefill"]) == eng.stats.prefills
    # every answer's first token comes from its prefill, every other from a decode step's row
    assert sum(n for n, *_ in schedule["decode"]) == eng.stats.new_tokens - len(prompts)
    assert all(1 <= n <= 2 and n <= pos <= n * w for n, w, pos in schedule["decode"])
    assert sum(n for n, _ in schedule["prefill"]) == len(prompts)

    out = replay_floor(tiny_checkpoint, schedule, "cpu", "float32")
    assert out["steps"] == eng.stats.steps and out["prefill_s"] > 0
    assert out["matmul_s"] > 0 and out["attention_padded_s"] > 0 and out["attention_ideal_s"] > 0
    assert out["decode_s"] == out["matmul_s"] + out["attention_ideal_s"]
    assert out["mean_length"] <= out["mean_width"]
