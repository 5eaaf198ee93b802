"""Packing: bin invariants, per-example positions and masks, and no cross-example contamination."""
import math
import random

import pytest
import torch

from orca.packing import best_fit_decreasing, collate, document_block_mask, model_inputs, pack_examples, packing_stats
from orca.tokenize import IGNORE_INDEX
from helpers import token_examples


def test_best_fit_decreasing_invariants():
    rng = random.Random(1)
    lengths = [rng.randint(1, 2048) for _ in range(400)] + [2048, 2048, 1]
    bins = best_fit_decreasing(lengths, 2048)
    flat = sorted(i for b in bins for i in b)
    assert flat == list(range(len(lengths)))  # every example exactly once, none split
    assert all(sum(lengths[i] for i in b) <= 2048 for b in bins)
    lower = math.ceil(sum(lengths) / 2048)
    assert len(bins) <= 11 / 9 * lower + 1  # BFD's worst-case bound


def test_best_fit_is_tightest():
    # 6 then 4 fill one bin of 10 exactly; 7 then 3 likewise: best fit pairs them so.
    bins = best_fit_decreasing([7, 6, 4, 3], 10)
    assert sorted(sorted(b) for b in bins) == [[0, 3], [1, 2]]
    with pytest.raises(ValueError, match="max_len"):
        best_fit_decreasing([11], 10)


def test_pack_is_seeded_and_orca_shaped_lengths_pack_densely():
    rng = random.Random(2)
    # Short prompts+answers like FLAN queries with teacher explanations: many fit per row.
    examples = token_examples([rng.randint(120, 1100) for _ in range(600)])
    rows_a, stats = pack_examples(examples, 2048, seed=5)
    rows_b, _ = pack_examples(examples, 2048, seed=5)
    rows_c, _ = pack_examples(examples, 2048, seed=6)
    ids = lambda rows: [[id(e) for e in r] for r in rows]  # noqa: E731
    assert ids(rows_a) == ids(rows_b) and ids(rows_a) != ids(rows_c)
    assert stats["examples"] == 600 and stats["packing_factor"] > 2.5
    assert stats["efficiency"] >= 0.97
    assert stats == packing_stats(rows_a, 2048)


def test_collate_positions_restart_and_mask_is_block_diagonal():
    rows = [token_examples([3, 2]), token_examples([4])]
    batch = collate(rows, "sdpa", pad_id=0)
    assert batch["position_ids"][0].tolist() == [0, 1, 2, 0, 1]
    assert batch["position_ids"][1].tolist()[:4] == [0, 1, 2, 3]
    assert batch["labels"][1, 4].item() == IGNORE_INDEX and batch["input_ids"][1, 4].item() == 0
    assert batch["n_real"] == 9
    m = batch["attention_mask"][0, 0].int().tolist()
    assert m == [[1, 0, 0, 0, 0],
                 [1, 1, 0, 0, 0],
                 [1, 1, 1, 0, 0],
                 [0, 0, 0, 1, 0],
                 [0, 0, 0, 1, 1]]
    pad_row = batch["attention_mask"][1, 0]
    assert pad_row[4].tolist() == [False] * 4 + [True]  # padding sees only itself: no empty softmax row
    eager = collate(rows, "eager", pad_id=0)["attention_mask"]
    assert eager.dtype == torch.float32 and (eager[0, 0][3, :3] < -1e30).all() and eager[0, 0][4, 3] == 0


def test_targets_are_listed_on_the_host_and_short_batches_fill_up_with_padding_rows():
    rows = [token_examples([5, 4]), token_examples([6])]
    for attn in ("sdpa", "flex_attention", "flash_attention_2"):
        batch = collate(rows, attn, pad_id=0, pad_to=12, pad_rows_to=3)
        labels = batch["labels"]
        # position p predicts token p+1 of the same row: target_index + 1 addresses the target
        assert torch.equal(labels.flatten()[batch["target_index"] + 1], batch["target_ids"])
        assert len(batch["target_ids"]) == int((labels[:, 1:] != IGNORE_INDEX).sum())
        assert batch["n_real"] == 15
    flex = collate(rows, "flex_attention", pad_id=0, pad_to=12, pad_rows_to=3)
    assert flex["input_ids"].shape == (3, 12) and "attention_mask" not in flex
    assert flex["segment_ids"][0].tolist() == [0] * 5 + [1] * 4 + [-1] * 3
    assert flex["segment_ids"][2].tolist() == [-1] * 12 and (flex["labels"][2] == IGNORE_INDEX).all()
    assert flex["position_ids"][2].tolist() == list(range(12))


def test_flash_attention_layout_is_one_flat_row_with_restarting_positions():
    batch = collate([token_examples([3, 2]), token_examples([4])], "flash_attention_2")
    assert "attention_mask" not in batch
    assert batch["input_ids"].shape == (1, 9)
    assert batch["position_ids"][0].tolist() == [0, 1, 2, 0, 1, 0, 1, 2, 3]
    from transformers.modeling_flash_attention_utils import prepare_fa_kwargs_from_position_ids
    (cu_q, _), (max_q, _) = prepare_fa_kwargs_from_position_ids(batch["position_ids"])
    assert cu_q.tolist() == [0, 3, 5, 9] and int(max_q) == 4


def test_flash_attention_layout_is_what_transformers_flattening_collator_makes():
    """Our flat row equals transformers.DataCollatorWithFlattening's for the same examples (we
    keep ours for host speed; see collate). Its separator label replaces each example's first
    label, which orca.tokenize already sets to -100, so it changes nothing."""
    from transformers import DataCollatorWithFlattening

    rng = random.Random(3)
    examples = token_examples([rng.randint(2, 300) for _ in range(60)], seed=3)
    assert all(e["labels"][0] == IGNORE_INDEX for e in examples)
    rows, _ = pack_examples(examples, 512, seed=0)
    library = DataCollatorWithFlattening(return_tensors="pt")
    for batch in (rows[:1], rows[:6], rows[6:9]):
        ours, theirs = collate(batch, "flash_attention_2"), library([e for row in batch for e in row])
        for key in ("input_ids", "labels", "position_ids"):
            assert torch.equal(ours[key], theirs[key]), key

@pytest.fixture(scope="module")
def tiny_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=32001, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512)
    return LlamaForCausalLM(cfg).eval()


def _loss(logits, labels):
    return torch.nn.functional.cross_entropy(logits[:-1], labels[1:], ignore_index=IGNORE_INDEX)


@pytest.fixture
def uncompiled_flex(monkeypatch):
    """FlexAttention's reference (uncompiled) kernel on CPU: transformers compiles the
    kernel on first use, which takes 30-180 s on 2 CPU cores; the compiled kernel is
    checked on CUDA, forward and backward (tests/test_train_gpu.py)."""
    import transformers.integrations.flex_attention as hf_flex

    monkeypatch.setattr(hf_flex, "is_torchdynamo_compiling", lambda: True)  # -> plain flex_attention


@pytest.mark.parametrize("attn", ["sdpa", "eager", "flex_attention"])
def test_no_contamination_packed_equals_alone(tiny_model, attn, request):
    if attn == "flex_attention":  # forward only: torch has no FlexAttention backward on CPU
        request.getfixturevalue("uncompiled_flex")
    tiny_model.config._attn_implementation = attn
    examples = token_examples([37, 90, 12, 55], seed=3)
    target = 2  # a middle example: has neighbours on both sides
    packed = collate([examples], attn, pad_id=32000, pad_to=230)  # with trailing padding too
    if attn == "flex_attention":
        assert "attention_mask" not in packed and packed["segment_ids"].shape == (1, 230)
    with torch.no_grad():
        out_packed = tiny_model(**model_inputs(packed)).logits[0]
        alone = collate([[examples[target]]], attn)
        out_alone = tiny_model(**model_inputs(alone)).logits[0]
        # The same row with a plain causal mask and running positions: contaminated.
        flat = packed["input_ids"][:, :sum(len(e["input_ids"]) for e in examples)]
        plain = {"input_ids": flat}
        if attn == "flex_attention":  # one segment: a plain causal BlockMask
            plain = model_inputs({**plain, "segment_ids": torch.zeros_like(flat)})
        out_plain = tiny_model(**plain).logits[0]
    start = 37 + 90
    seg = slice(start, start + 12)
    labels = torch.tensor(examples[target]["labels"])
    assert torch.allclose(out_packed[seg], out_alone, atol=1e-5, rtol=1e-4)
    assert torch.allclose(_loss(out_packed[seg], labels), _loss(out_alone, labels), atol=1e-6)
    assert not torch.allclose(out_plain[seg], out_alone, atol=1e-3)  # the check can fail
    # every example in the row, not only the target
    pos = 0
    for e in examples:
        n = len(e["input_ids"])
        solo = collate([[e]], attn)
        with torch.no_grad():
            ref = tiny_model(**model_inputs(solo)).logits[0]
        assert torch.allclose(out_packed[pos:pos + n], ref, atol=1e-5, rtol=1e-4)
        pos += n
    assert torch.isfinite(out_packed).all()  # padding rows did not produce NaN


def test_flex_block_mask_matches_the_dense_mask_tile_by_tile():
    """The BlockMask's per-tile metadata (what the compiled kernel skips or computes
    without masking) agrees with the dense block-diagonal mask of the SDPA path."""
    rows = [token_examples([37, 90, 12, 55]), token_examples([100, 60])]
    dense = collate(rows, "sdpa", pad_to=230)["attention_mask"][:, 0]  # [B, T, T], padding block included
    block = 16
    mask = document_block_mask(collate(rows, "flex_attention", pad_to=230)["segment_ids"], block_size=block)
    tiles = math.ceil(230 / block)
    padded = torch.zeros(2, tiles * block, tiles * block, dtype=torch.bool)
    padded[:, :230, :230] = dense
    per_tile = padded.view(2, tiles, block, tiles, block).permute(0, 1, 3, 2, 4).flatten(3)
    any_on, all_on = per_tile.any(-1), per_tile.all(-1)
    partial = torch.zeros(2, tiles, tiles, dtype=torch.bool)
    full = torch.zeros(2, tiles, tiles, dtype=torch.bool)
    for b in range(2):
        for q in range(tiles):
            n = int(mask.kv_num_blocks[b, 0, q])
            partial[b, q, mask.kv_indices[b, 0, q, :n]] = True
            n = int(mask.full_kv_num_blocks[b, 0, q])
            full[b, q, mask.full_kv_indices[b, 0, q, :n]] = True
    # Edge tiles past T=230 hold out-of-range positions, so compare fully-inside tiles for "full".
    inside = 230 // block
    assert torch.equal(full[:, :inside, :inside], all_on[:, :inside, :inside])
    assert torch.equal((partial | full), any_on)  # no tile with a visible pair is skipped, no empty one computed
    assert not (partial & full).any()
    # The dense mask itself, rebuilt from the mask function, is the SDPA mask.
    q, kv = torch.meshgrid(torch.arange(230), torch.arange(230), indexing="ij")
    for b in range(2):
        rebuilt = mask.mask_mod(torch.tensor(b), torch.tensor(0), q, kv)
        assert torch.equal(rebuilt, dense[b])
