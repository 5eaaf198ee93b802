"""Pack tokenized examples into rows of at most `max_len` tokens, without
cross-example attention.

`pack_examples` shuffles, then runs best-fit decreasing: examples longest first,
each into the open row whose free space fits it most tightly (a segment tree over
free-space values makes that O(log max_len)), never splitting one. `collate`
builds a batch with position ids restarting at 0 for every example and either

- a 4D block-diagonal causal mask (`[B, 1, T, T]`, bool for SDPA, additive
  float for eager attention), which transformers passes through unchanged, or
- for `flex_attention`, segment ids only; `model_inputs` turns them, on the device,
  into a FlexAttention BlockMask (document mask: causal and same segment), so no
  dense mask exists and fully masked 128x128 tiles are skipped, or
- for `flash_attention_2`, one flattened row with position ids only: transformers
  turns the restarts into `cu_seqlens` for flash-attention's varlen kernel.

`collate` also lists, on the host, where the target tokens are (`target_index`,
`target_ids`), so the loss needs no boolean indexing on the device (that would
wait for the GPU to learn how many targets there are).
"""
from __future__ import annotations

import random

import numpy as np
import torch

from orca.tokenize import IGNORE_INDEX


class _FreeSpaceTree:
    """Counts of open rows per free-space value; finds the smallest value >= need."""

    def __init__(self, max_len: int):
        self.size = 1
        while self.size < max_len + 1:
            self.size *= 2
        self.count = [0] * (2 * self.size)

    def add(self, free: int, delta: int) -> None:
        i = free + self.size
        while i:
            self.count[i] += delta
            i //= 2

    def smallest_at_least(self, need: int) -> int | None:
        """Smallest free value >= need that some open row has, or None."""
        return self._find(1, 0, self.size - 1, need)

    def _find(self, node: int, lo: int, hi: int, need: int) -> int | None:
        if hi < need or not self.count[node]:
            return None
        if lo == hi:
            return lo
        mid = (lo + hi) // 2
        found = self._find(2 * node, lo, mid, need)
        return found if found is not None else self._find(2 * node + 1, mid + 1, hi, need)


def best_fit_decreasing(lengths: list[int], max_len: int, order: list[int] | None = None) -> list[list[int]]:
    """Group example indices into bins of total length <= max_len (lengths must be <= max_len)."""
    order = list(range(len(lengths))) if order is None else order
    order = sorted(order, key=lambda i: -lengths[i])  # stable: ties keep the shuffled order
    tree = _FreeSpaceTree(max_len)
    bins_by_free: dict[int, list[int]] = {}
    bins: list[list[int]] = []
    for i in order:
        n = lengths[i]
        if n > max_len:
            raise ValueError(f"example {i} has {n} tokens > max_len {max_len}; truncate first")
        free = tree.smallest_at_least(n)
        if free is None:
            b = len(bins)
            bins.append([i])
        else:
            b = bins_by_free[free].pop()
            tree.add(free, -1)
            bins[b].append(i)
        new_free = (free if free is not None else max_len) - n
        bins_by_free.setdefault(new_free, []).append(b)
        tree.add(new_free, 1)
    return bins


def pack_examples(examples: list[dict], max_len: int, seed: int) -> tuple[list[list[dict]], dict]:
    """Shuffle (seeded) and pack examples into rows; returns (rows, stats).

    Examples must already be truncated to max_len (orca.tokenize does that)."""
    rng = random.Random(seed)
    order = list(range(len(examples)))
    rng.shuffle(order)
    lengths = [len(e["input_ids"]) for e in examples]
    bins = best_fit_decreasing(lengths, max_len, order)
    rng.shuffle(bins)  # long-example rows must not all come first
    rows = [[examples[i] for i in b] for b in bins]
    return rows, packing_stats(rows, max_len)


def packing_stats(rows: list[list[dict]], max_len: int) -> dict:
    """Packing factor (examples per row; the paper: 2.7) and efficiency (real tokens / slots)."""
    n_examples = sum(len(r) for r in rows)
    tokens = sum(len(e["input_ids"]) for r in rows for e in r)
    slots = len(rows) * max_len
    return {
        "rows": len(rows),
        "examples": n_examples,
        "tokens": tokens,
        "packing_factor": round(n_examples / len(rows), 3) if rows else 0.0,
        "efficiency": round(tokens / slots, 4) if slots else 0.0,
    }


def collate(rows: list[list[dict]], attn_implementation: str = "sdpa", pad_id: int = 0,
            pad_to: int | None = None, dtype: torch.dtype = torch.float32, pad_rows_to: int | None = None) -> dict:
    """Model inputs for a micro-batch of packed rows.

    Returns input_ids, labels, position_ids, the mask (sdpa/eager: attention_mask,
    flex_attention: segment_ids, flash_attention_2: none), target_index and
    target_ids (see `with_targets`), and n_real (the count of example tokens, an int
    to pop before calling the model); padding (to the longest row, or `pad_to`) gets
    label -100 and forms its own attention block, so no real token sees it and no
    softmax row is empty. `pad_rows_to` adds rows of padding up to that many (the last
    micro-batch of an epoch), so compiled kernels see one shape.
    """
    if attn_implementation == "flash_attention_2":
        # transformers.DataCollatorWithFlattening makes the same three tensors (its separator
        # label goes where orca.tokenize already puts -100; tests/test_packing.py checks they are
        # equal). Ours concatenates numpy arrays where it grows Python lists token by token:
        # 1.0 vs 3.6 ms per micro-batch of 8 packed rows x 2048 tokens on a 2-core CPU (best of
        # 3 over 40 micro-batches of bench/train_throughput.py's examples). It is host time in
        # the training loop, which the GPU waits for whenever a step computes faster.
        flat = [e for r in rows for e in r]
        ids = torch.from_numpy(np.concatenate([np.asarray(e["input_ids"]) for e in flat]).astype(np.int64))[None]
        labels = torch.from_numpy(np.concatenate([np.asarray(e["labels"]) for e in flat]).astype(np.int64))[None]
        pos = torch.from_numpy(np.concatenate([np.arange(len(e["input_ids"])) for e in flat]))[None]
        return with_targets({"input_ids": ids, "labels": labels, "position_ids": pos, "n_real": ids.shape[1]})
    width = max(sum(len(e["input_ids"]) for e in r) for r in rows)
    width = max(width, pad_to or 0)
    B = max(len(rows), pad_rows_to or 0)
    ids = torch.full((B, width), pad_id, dtype=torch.long)
    labels = torch.full((B, width), IGNORE_INDEX, dtype=torch.long)
    pos = torch.zeros((B, width), dtype=torch.long)
    segment = torch.full((B, width), -1, dtype=torch.long)  # -1: padding block
    for b, row in enumerate(rows):
        start = 0
        for s, e in enumerate(row):
            n = len(e["input_ids"])
            ids[b, start:start + n] = torch.as_tensor(np.asarray(e["input_ids"]))
            labels[b, start:start + n] = torch.as_tensor(np.asarray(e["labels"]))
            pos[b, start:start + n] = torch.arange(n)
            segment[b, start:start + n] = s
            start += n
        pos[b, start:] = torch.arange(width - start)
    pos[len(rows):] = torch.arange(width)  # rows of padding only
    n_real = sum(len(e["input_ids"]) for r in rows for e in r)
    batch = {"input_ids": ids, "labels": labels, "position_ids": pos, "n_real": n_real}
    if attn_implementation == "flex_attention":
        return with_targets({**batch, "segment_ids": segment})
    same_segment = segment[:, :, None] == segment[:, None, :]
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    mask = (same_segment & causal)[:, None, :, :]
    if attn_implementation == "eager":
        mask = torch.zeros(mask.shape, dtype=dtype).masked_fill(~mask, torch.finfo(dtype).min)
    return with_targets({**batch, "attention_mask": mask})


def with_targets(batch: dict) -> dict:
    """Add `target_index` (flat positions b*T+t whose next token is a target) and
    `target_ids` (those next tokens), computed from the labels on the host."""
    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE_INDEX
    width = batch["labels"].shape[1]
    rows, cols = keep.nonzero(as_tuple=True)
    return {**batch, "target_index": rows * width + cols, "target_ids": targets[keep]}


def document_block_mask(segment_ids: torch.Tensor, block_size: int | None = None):
    """FlexAttention BlockMask for packed rows: a query sees keys of its own segment
    at or before it. Built on segment_ids' device; only per-tile metadata is stored."""
    from torch.nn.attention.flex_attention import create_block_mask

    def document_causal(b, h, q, kv):
        return (segment_ids[b, q] == segment_ids[b, kv]) & (q >= kv)

    B, T = segment_ids.shape
    kwargs = {"BLOCK_SIZE": block_size} if block_size else {}
    return create_block_mask(document_causal, B=B, H=None, Q_LEN=T, KV_LEN=T, device=segment_ids.device, **kwargs)


MODEL_INPUTS = ("input_ids", "position_ids", "attention_mask")


def model_inputs(batch: dict, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> dict:
    """The tensors the model takes, on `device` (copies do not wait for the GPU);
    FlexAttention's BlockMask is built there from the segment ids."""
    inputs = {k: batch[k].to(device, non_blocking=True) for k in MODEL_INPUTS if k in batch}
    if "segment_ids" in batch:
        inputs["attention_mask"] = document_block_mask(batch["segment_ids"].to(device, non_blocking=True))
    elif "attention_mask" in inputs and inputs["attention_mask"].is_floating_point():
        inputs["attention_mask"] = inputs["attention_mask"].to(dtype)
    return inputs
