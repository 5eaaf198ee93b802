"""The learning-rate schedule (orca.train.lr_lambda) against the library's
`transformers.get_cosine_with_min_lr_schedule_with_warmup`, at every step, for the stages of
every shipped config.

The library documents its schedule as: during `num_warmup_steps` the lr "increases linearly
between 0 and the initial lr", then it "decreases following the values of the cosine function
between the initial lr ... to min_lr" over the remaining steps. Ours is the same cosine from
the end of warmup on; its warmup is one step ahead (step s < warmup gets (s + 1) / warmup, the
library's s / warmup, so the library's first optimizer step runs at lr 0). This test pins both
facts, so neither side can drift unnoticed."""
import math
from pathlib import Path

import pytest
import torch

from harness.pipeline import load_pipeline_config
from orca.train import lr_lambda
from orca.train_config import load_train_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
# Optimizer steps per stage worth checking: edge cases, the tiny configs' real counts (48 and
# 32: 12 and 8 steps x 4 epochs), and about the 13B config's (FLAN-5M / 2.7 per row / 160 rows
# per step x 4 epochs).
TOTALS = [1, 2, 3, 10, 32, 48, 1000, 46_000]


def _shipped_stages() -> list:
    params = []
    for path in sorted(CONFIGS.glob("*.yaml")):
        if path.name.startswith("pipeline"):
            config = load_pipeline_config(path).train
        else:
            config = load_train_config(path)
        for stage in config.stages:
            params.append(pytest.param(stage, id=f"{path.stem}-{stage.name}"))
    return params


def _library_schedule(total: int, warmup: int, min_ratio: float, lr: float):
    from transformers import get_cosine_with_min_lr_schedule_with_warmup

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = get_cosine_with_min_lr_schedule_with_warmup(optimizer, num_warmup_steps=warmup,
                                                            num_training_steps=total, min_lr_rate=min_ratio)
    return scheduler.lr_lambdas[0]


@pytest.mark.parametrize("stage", _shipped_stages())
def test_schedule_is_the_library_cosine_with_warmup_one_step_ahead(stage):
    checked = 0
    for total in TOTALS:
        warmup = stage.warmup_steps or round(stage.warmup_ratio * total)  # as orca.train.train_stage
        ours = lr_lambda(total, warmup, stage.min_lr_ratio)
        library = _library_schedule(total, warmup, stage.min_lr_ratio, stage.lr)
        # The lr of every optimizer step (0 .. total-1) and the one logged after the last (total).
        for step in range(total + 1):
            if step < warmup:
                assert ours(step) == library(step + 1) == (step + 1) / warmup, (total, warmup, step)
                assert library(step) == step / warmup
            else:
                assert ours(step) == library(step), (total, warmup, step)  # bit for bit
            checked += 1
        assert ours(total) == pytest.approx(stage.min_lr_ratio, rel=1e-12)  # ends at the floor
        if warmup:
            assert library(0) == 0.0 and ours(0) == 1 / warmup  # the one real difference
    assert checked == sum(TOTALS) + len(TOTALS)


def test_shipped_stages_are_all_checked():
    ids = [p.id for p in _shipped_stages()]
    assert "tiny_two_stage-stage1" in ids and "orca13b_two_stage-stage2" in ids and len(ids) >= 6


def test_cosine_midpoint_is_halfway_to_the_floor():
    f = lr_lambda(total_steps=110, warmup=10, min_ratio=0.1)
    assert f(60) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))  # = 0.55
    assert f(10) == 1.0 and f(9) == 1.0 and f(0) == pytest.approx(0.1)
