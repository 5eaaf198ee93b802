"""Every shipped config parses, and its data files exist."""
from pathlib import Path

import pytest

from harness.pipeline import load_pipeline_config
from orca.train_config import load_train_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.mark.parametrize("name", ["tiny_two_stage.yaml", "orca13b_two_stage.yaml"])
def test_train_configs_parse(name):
    cfg = load_train_config(CONFIGS / name)
    assert [s.name for s in cfg.stages] == ["stage1", "stage2"]
    if name.startswith("tiny"):
        assert all(p.is_file() for s in cfg.stages for p in s.data)


def test_pipeline_example_parses_with_existing_teacher_data():
    cfg = load_pipeline_config(CONFIGS / "pipeline_tiny.yaml")
    assert cfg.sample is None and not cfg.collect
    assert all(p.is_file() for s in cfg.train.stages for p in s.data)
    assert cfg.train.stages[1].init == "stage:stage1"
    assert cfg.evaluate["mode"] == "loglikelihood"
