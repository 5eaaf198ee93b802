"""Training on a CUDA GPU: FlexAttention's compiled kernel keeps packed examples apart
(forward and backward), `auto` picks it without flash-attn, and a training step does not
wait for the GPU. Skipped without CUDA; bench/gpu_train_check.sh runs these."""
import json
import warnings

import pytest
import torch

from orca.packing import collate, model_inputs
from orca.tokenize import IGNORE_INDEX
from helpers import token_examples  # noqa: E402  (tests/ is on sys.path under pytest)

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")




def _loss(logits, labels):
    return torch.nn.functional.cross_entropy(logits[:-1].float(), labels[1:], ignore_index=IGNORE_INDEX)


def test_flex_packed_equals_alone_forward_and_backward_on_cuda():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=32001, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      attn_implementation="flex_attention")
    model = LlamaForCausalLM(cfg).cuda().train()  # train(): transformers compiles flex for training
    params = [p for p in model.parameters()]
    examples = token_examples([37, 90, 12, 55, 160], seed=3)
    labels = [torch.tensor(e["labels"], device="cuda") for e in examples]

    packed = collate([examples], "flex_attention", pad_id=32000, pad_to=384)
    logits = model(**model_inputs(packed, "cuda")).logits[0]
    pieces, pos = [], 0
    for e in examples:
        pieces.append(logits[pos:pos + len(e["input_ids"])])
        pos += len(e["input_ids"])
    loss_packed = sum(_loss(p, y) for p, y in zip(pieces, labels))
    grads_packed = torch.autograd.grad(loss_packed, params)

    alone = [model(**model_inputs(collate([[e]], "flex_attention"), "cuda")).logits[0] for e in examples]
    loss_alone = sum(_loss(a, y) for a, y in zip(alone, labels))
    grads_alone = torch.autograd.grad(loss_alone, params)

    for p, a in zip(pieces, alone):
        assert torch.allclose(p, a, atol=2e-3, rtol=2e-3), (p - a).abs().max()
    assert torch.allclose(loss_packed, loss_alone, rtol=1e-4)
    for gp, ga in zip(grads_packed, grads_alone):
        assert torch.allclose(gp, ga, atol=1e-4, rtol=2e-3), (gp - ga).abs().max()
    # The check can fail: one segment (plain causal attention across examples) differs.
    flat = packed["input_ids"][:, :pos]
    with torch.no_grad():
        mixed = model(**model_inputs({"input_ids": flat, "segment_ids": torch.zeros_like(flat)}, "cuda")).logits[0]
    start = 37 + 90
    assert not torch.allclose(mixed[start:start + 12], alone[2], atol=1e-2)


def _train_once(tmp_path, n_examples: int) -> tuple[int, int, list, str]:
    """Train one tiny stage on CUDA; returns (steps, synchronising calls seen, metrics, console text)."""
    import io

    from rich.console import Console

    from helpers import write_config

    from orca.train import train
    from orca.train_config import load_train_config

    cfg_path = write_config(tmp_path, n1=n_examples, epochs=1, batch_size=1, grad_accum=2, max_len=128)
    raw = json.loads(cfg_path.read_text())
    raw["stages"] = raw["stages"][:1]
    raw.update(device="cuda", log_every=10 ** 6)
    cfg_path.write_text(json.dumps(raw))
    config = load_train_config(cfg_path)
    log = io.StringIO()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train(config, console=Console(file=log, width=400))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = sum("synchroniz" in str(w.message) for w in caught)
    stage = tmp_path / "out" / "stage1"
    steps = json.loads((stage / "data_stats.json").read_text())["steps_per_epoch"][0]
    metrics = [json.loads(line) for line in (stage / "metrics.jsonl").read_text().splitlines()]
    return steps, syncs, metrics, log.getvalue()


def test_auto_attention_is_flex_and_steps_do_not_wait_for_the_gpu(tmp_path):
    import importlib.util

    if importlib.util.find_spec("flash_attn") is not None:
        pytest.skip("flash-attn is installed: auto picks flash_attention_2")
    for name in ("warm", "a", "b"):
        (tmp_path / name).mkdir()
    # Model loading and checkpoint writing wait for the GPU a fixed number of times; a step
    # that waited would add at least one wait per step (or per micro-batch). The first run
    # compiles FlexAttention's kernels (which may wait too) and is not counted.
    _train_once(tmp_path / "warm", 16)
    small = _train_once(tmp_path / "a", 16)
    large = _train_once(tmp_path / "b", 128)
    assert large[0] - small[0] >= 8
    assert large[1] - small[1] < large[0] - small[0], (small, large)
    assert len(large[2]) == 1 and torch.isfinite(torch.tensor(large[2][0]["loss"]))  # one line: at epoch end
    assert "attention flex_attention" in large[3]
