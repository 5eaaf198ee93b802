"""The kernel floor of a generation run: what its own decode schedule costs in matmuls and
attention alone, on this chip, with torch's kernels.

The prefill roofline says how fast a forward can turn tokens over when all of them are in
one big batch. Decoding cannot reach it: every step reads all the weights for only the
rows in flight, and every row's attention reads its keys and values. This module records
the engine's schedule (per decode step: rows in flight, the attention width they share and
the positions they really hold; per prefill: rows and padded width) while a run goes, then
replays it with nothing but the model's own linear layers (`F.linear` on its weights) and
`scaled_dot_product_attention` over a key/value store of the same shapes -- no norms,
rotary, activations, sampling, stop checks or Python bookkeeping. Attention is replayed
twice: at the shared (padded) width the engine reads, and at each step's mean real length
(what an attention over each row's own length would read). No loop built on these kernels
can do the same work faster than matmuls + the ideal attention + the prefill.

Used by `bench/eval_throughput.py --model ... --floor`.
"""
from __future__ import annotations

import time
from contextlib import contextmanager


@contextmanager
def record_schedule():
    """Yield a dict that fills with the engine's forwards while the block runs:
    `decode`: [(rows, width, positions)] per step (positions: the rows' real key/value
    lengths, summed), `prefill`: [(rows, width)] per prefill forward."""
    from harness.models import engine

    schedule: dict[str, list[tuple]] = {"decode": [], "prefill": []}
    write = engine.SlotKV.write

    def recording_write(self, layer, key, value):
        if layer == 0:
            if self.plan[0] == "prefill":
                schedule["prefill"].append((key.shape[0], key.shape[2]))
            else:
                n, lens = self.plan[1], self.plan[3]
                schedule["decode"].append((n, self.plan[4], int(lens.sum()) + n))  # a row attends lens + 1
        return write(self, layer, key, value)

    engine.SlotKV.write = recording_write
    try:
        yield schedule
    finally:
        engine.SlotKV.write = write


def replay_floor(ckpt, schedule: dict, device: str, dtype: str) -> dict:
    """Seconds the schedule's parts take alone: decode matmuls, decode attention at the
    padded and at the ideal width, prefill forwards."""
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
    linears = [(lay.self_attn.q_proj, lay.self_attn.k_proj, lay.self_attn.v_proj, lay.self_attn.o_proj,
                lay.mlp.gate_proj, lay.mlp.up_proj, lay.mlp.down_proj) for lay in layers]
    rows_max = max((n for n, *_ in schedule["decode"]), default=1)
    width_max = max((w for _, w, _ in schedule["decode"]), default=1)
    gen = torch.Generator(device="cpu").manual_seed(0)
    dt = model.dtype
    store_k = torch.randn(rows_max, kv_heads, width_max, head_dim, generator=gen).to(device, dt)
    store_v = torch.randn(rows_max, kv_heads, width_max, head_dim, generator=gen).to(device, dt)
    x_h = torch.randn(rows_max, cfg.hidden_size, generator=gen).to(device, dt)
    x_i = torch.randn(rows_max, cfg.intermediate_size, generator=gen).to(device, dt)

    q_all = torch.randn(rows_max, kv_heads, heads // kv_heads, head_dim, generator=gen).to(device, dt)

    def matmuls(n: int) -> None:
        xh, xi = x_h[:n], x_i[:n]
        for q_p, k_p, v_p, o_p, gate, up, down in linears:
            for m in (q_p, k_p, v_p, o_p, gate, up):
                F.linear(xh, m.weight, m.bias)
            F.linear(xi, down.weight, down.bias)
        F.linear(xh, lm_head.weight)

    def attention(n: int, width: int) -> None:
        # one-token queries packed per key/value head, as transformers' SDPA path runs them
        q, k, v = q_all[:n], store_k[:n, :, :width], store_v[:n, :, :width]
        for _ in linears:
            F.scaled_dot_product_attention(q, k, v)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    out = {}
    with torch.inference_mode():
        matmuls(1), attention(1, 8)  # warm-up
        for name, part in (("matmul_s", lambda n, w, pos: matmuls(n)),
                           ("attention_padded_s", lambda n, w, pos: attention(n, w)),
                           ("attention_ideal_s", lambda n, w, pos: attention(n, -(-pos // n)))):
            sync()
            t0 = time.perf_counter()
            for step in schedule["decode"]:
                part(*step)
            sync()
            out[name] = time.perf_counter() - t0
        out["decode_s"] = out["matmul_s"] + out["attention_ideal_s"]
        # prefill: the same forwards as the run (rows x padded width), whole model, last logits only
        t0 = time.perf_counter()
        for n, width in schedule["prefill"]:
            ids = torch.randint(100, cfg.vocab_size - 100, (n, width), generator=gen).to(device)
            model(ids, logits_to_keep=1)
        sync()
        out["prefill_s"] = time.perf_counter() - t0
    out["steps"] = len(schedule["decode"])
    out["row_steps"] = sum(n for n, *_ in schedule["decode"])
    out["mean_width"] = round(sum(n * w for n, w, _ in schedule["decode"]) / max(1, out["row_steps"]), 1)
    out["mean_length"] = round(sum(pos for *_, pos in schedule["decode"]) / max(1, out["row_steps"]), 1)
    del model
    return out


if __name__ == "__main__":  # a library of eval_throughput.py: --help says how to run it
    import argparse
    import sys

    argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                            epilog="Run it through: .venv/bin/python bench/eval_throughput.py "
                                   "--model smollm2-135m-instruct --floor").parse_args()
    sys.exit("bench/decode_floor.py has no benchmark of its own: run bench/eval_throughput.py --model MODEL --floor")
