"""The DeepSpeed path, for real on CPU: ZeRO-2 bf16 in one process, ZeRO-3 in two under torchrun,
HF checkpoints consolidated from the shards, and resume from a DeepSpeed checkpoint."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("deepspeed")

from helpers import write_teacher_data  # noqa: E402  (tests/ is on sys.path under pytest)

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _config(tmp: Path, ds_json: str, bf16: bool, epochs: int) -> Path:
    write_teacher_data(tmp / "data.jsonl", 24, seed=3)
    cfg = {"output_dir": "out", "seed": 0, "log_every": 1, "deepspeed": str(ROOT / "configs" / ds_json),
           "bf16": bf16,
           "stages": [{"name": "stage1", "data": "data.jsonl", "init": "tiny:0", "epochs": epochs, "lr": 3e-3,
                       "batch_size": 2, "grad_accum": 2, "max_len": 128, "warmup_steps": 1}]}
    path = tmp / "ds.json"
    path.write_text(json.dumps(cfg))
    return path


def _run(cmd, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _losses(stage_dir: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (stage_dir / "metrics.jsonl").read_text().splitlines()]


def test_zero2_bf16_single_process_trains_and_saves_hf(tmp_path):
    cfg = _config(tmp_path, "deepspeed_zero2_bf16.json", bf16=True, epochs=2)
    _run([sys.executable, "-m", "orca.train", str(cfg)], ROOT)
    stage = tmp_path / "out" / "stage1"
    assert (stage / "epoch-2" / "deepspeed" / "state").is_dir()
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(stage / "epoch-2")
    assert model.get_input_embeddings().weight.shape[0] == 32001
    losses = _losses(stage)
    assert losses[-1] < losses[0] - 0.5


def test_zero3_two_processes_torchrun_and_resume_from_deepspeed_checkpoint(tmp_path):
    cfg = _config(tmp_path, "deepspeed_zero3_bf16.json", bf16=False, epochs=2)
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
              "-m", "orca.train", str(cfg)]
    _run(launch, ROOT)
    stage = tmp_path / "out" / "stage1"
    shards = sorted(p.name for p in (stage / "epoch-2" / "deepspeed" / "state").iterdir())
    assert sum("rank_1" in s for s in shards) >= 1  # ZeRO-3 state really is split across 2 ranks
    from safetensors.torch import load_file
    full = load_file(str(stage / "epoch-2" / "model.safetensors"))
    assert full["model.embed_tokens.weight"].shape == (32001, 64)  # consolidated, not a shard

    # Forget epoch 2 and resume from the epoch-1 DeepSpeed checkpoint: same weights again.
    reference = {k: v.clone() for k, v in full.items()}
    shutil.rmtree(stage / "epoch-2")
    (stage / "state.json").write_text(json.dumps({"checkpoint": "epoch-1"}))  # as after a kill in epoch 2
    steps_before = [json.loads(line)["step"] for line in (stage / "metrics.jsonl").read_text().splitlines()]
    resumed = _run(launch, ROOT)
    # continued from the checkpoint, did not start over (rich wraps the line: compare without whitespace)
    assert "resumingfromepoch-1" in "".join((resumed.stdout + resumed.stderr).split())
    steps = [json.loads(line)["step"] for line in (stage / "metrics.jsonl").read_text().splitlines()]
    # the redone epoch-2 steps replace their earlier lines: every step logged once, in order
    assert steps == steps_before == list(range(1, len(steps) + 1))
    again = load_file(str(stage / "epoch-2" / "model.safetensors"))
    for k in reference:
        assert torch.allclose(reference[k], again[k], atol=1e-5), k


def test_launched_training_leaves_the_process_group_before_exit(tmp_path, monkeypatch):
    # A rank that exited with its gloo group alive sometimes aborted at exit under torchrun
    # (SIGABRT after "stage done"), failing a finished launch; main() now ends the group itself.
    import socket

    from orca.distributed import is_initialized
    from orca.train import main
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"),
                       ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", port)):
        monkeypatch.setenv(key, value)  # undone after the test: init_for_deepspeed sets what is missing
    cfg = _config(tmp_path, "deepspeed_zero2_bf16.json", bf16=False, epochs=1)
    assert main([str(cfg)]) == 0
    assert (tmp_path / "out" / "stage1" / "epoch-1" / "model.safetensors").is_file()
    assert not is_initialized()
