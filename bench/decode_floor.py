"""The kernel floor of a generation run: what its own decode schedule costs in matmuls and
attention alone, on this chip, with torch's kernels.

The prefill roofline says how fast a forward can turn tokens over when all of them are in
one big batch. Decoding cannot reach it: every step reads all the weights for only the
rows in flight, and every row's attention reads its keys and values. This module records
the engine's schedule (per decode step: rows in flight and attention width; per prefill:
rows and padded width) while a run goes, then replays it with nothing but the model's
own linear layers (`F.linear` on its weights) and `scaled_dot_product_attention` over a
key/value store of the same shapes -- no norms, rotary, activations, sampling, stop checks
or Python bookkeeping. No loop built on these kernels can run that schedule faster.

Used by `bench/eval_throughput.py --model ... --floor`.
"""
from __future__ import annotations

import time
from contextlib import contextmanager


@contextmanager
def record_schedule():
    """Yield a dict that fills with the engine's forwards while the block runs:
    `decode`: [(rows, width)] per step, `prefill`: [(rows, width)] per prefill forward."""
    from harness.models import engine

    schedule: dict[str, list[tuple[int, int]]] = {"decode": [], "prefill": []}
    write = engine.SlotKV.write

    def recording_write(self, layer, key, value):
        if layer == 0:
            if self.plan[0] == "prefill":
                schedule["prefill"].append((key.shape[0], key.shape[2]))
            else:
                schedule["decode"].append((self.plan[1], self.plan[4]))
        return write(self, layer, key, value)

    engine.SlotKV.write = recording_write
    try:
        yield schedule
    finally:
        engine.SlotKV.write = write


def replay_floor(ckpt, schedule: dict, device: str, dtype: str) -> dict:
    """Seconds the schedule's matmuls and attention take alone (decode and prefill apart)."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=getattr(torch, dtype)).to(device).eval()
    cfg = model.config
    heads = cfg.num_attention_heads
    kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    layers = model.get_decoder().layers
    lm_head = model.get_output_embeddings()
    linears = [[m for m in (lay.self_attn.q_proj, lay.self_attn.k_proj, lay.self_attn.v_proj, lay.self_attn.o_proj,
                            lay.mlp.gate_proj, lay.mlp.up_proj, lay.mlp.down_proj)] for lay in layers]
    rows_max = max((n for n, _ in schedule["decode"]), default=1)
    width_max = max((w for _, w in schedule["decode"]), default=1)
    gen = torch.Generator(device="cpu").manual_seed(0)
    dt = model.dtype
    store_k = torch.randn(rows_max, kv_heads, width_max, head_dim, generator=gen).to(device, dt)
    store_v = torch.randn(rows_max, kv_heads, width_max, head_dim, generator=gen).to(device, dt)
    x_h = torch.randn(rows_max, cfg.hidden_size, generator=gen).to(device, dt)
    x_i = torch.randn(rows_max, cfg.intermediate_size, generator=gen).to(device, dt)

    def decode_step(n: int, width: int) -> None:
        xh, xi = x_h[:n], x_i[:n]
        q = torch.randn(n, kv_heads, heads // kv_heads, head_dim, device=device, dtype=dt)
        k, v = store_k[:n, :, :width], store_v[:n, :, :width]
        for q_p, k_p, v_p, o_p, gate, up, down in linears:
            for m in (q_p, k_p, v_p, o_p, gate, up):
                F.linear(xh, m.weight, m.bias)
            F.linear(xi, down.weight, down.bias)
            F.scaled_dot_product_attention(q, k, v)
        F.linear(xh, lm_head.weight)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    out = {}
    with torch.inference_mode():
        decode_step(1, 8)  # warm-up
        sync()
        t0 = time.perf_counter()
        for n, width in schedule["decode"]:
            decode_step(n, width)
        sync()
        out["decode_s"] = time.perf_counter() - t0
        # prefill: the same forwards as the run (rows x padded width), whole model, last logits only
        t0 = time.perf_counter()
        for n, width in schedule["prefill"]:
            ids = torch.randint(100, cfg.vocab_size - 100, (n, width), generator=gen).to(device)
            model(ids, logits_to_keep=1)
        sync()
        out["prefill_s"] = time.perf_counter() - t0
    out["steps"] = len(schedule["decode"])
    out["row_steps"] = sum(n for n, _ in schedule["decode"])
    out["mean_width"] = round(sum(n * w for n, w in schedule["decode"]) / max(1, out["row_steps"]), 1)
    del model
    return out
