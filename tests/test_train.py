"""Training loop: config errors and out-of-range values, two-stage chaining into HF checkpoints,
resume after kill -9 (each step logged once). (Rerunning a stage under a changed config:
tests/test_train_rerun.py.)"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from harness.cli import main
from helpers import error_line, write_config
from orca.errors import UserError
from orca.io import read_jsonl
from orca.train import train
from orca.train_config import load_train_config, parse_train_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("patch, message", [
    ({"epochs": 0}, r"stages\[0\]: field 'epochs' must be > 0"),
    ({"epochs": "4"}, r"stages\[0\]: field 'epochs' must be int"),
    ({"init": "stage:later"}, r"stages\[0\]: field 'init': 'stage:later' names no earlier stage"),
    ({"loss_on": "everything"}, r"stages\[0\]: field 'loss_on' must be one of response, prompt, all"),
    ({"bogus": 1}, r"stages\[0\]: unknown field 'bogus'"),
])
def test_config_errors_name_file_and_field(tmp_path, patch, message):
    raw = {"output_dir": "o", "stages": [{"name": "a", "data": "d.jsonl", "init": "tiny:0", **patch}]}
    with pytest.raises(UserError, match=r"cfg.yaml: " + message):
        parse_train_config(raw, tmp_path / "cfg.yaml")


@pytest.mark.parametrize("top, message", [
    ({"compile": "yes"}, r"field 'compile' must be bool"),
    ({"attn_implementation": "flex"}, r"field 'attn_implementation' must be one of auto, sdpa, eager, flex_attention"),
    ({"compile": True, "deepspeed": "ds.json"}, r"field 'compile': true is for the plain loop"),
])
def test_top_level_config_errors(tmp_path, top, message):
    (tmp_path / "ds.json").write_text("{}")
    raw = {"output_dir": "o", "stages": [{"name": "a", "data": "d.jsonl", "init": "tiny:0"}], **top}
    with pytest.raises(UserError, match=r"cfg.yaml: " + message):
        parse_train_config(raw, tmp_path / "cfg.yaml")
    ok = parse_train_config({**raw, "compile": True, "attn_implementation": "flex_attention", "deepspeed": None},
                            tmp_path / "cfg.yaml")
    assert ok.compile is True and ok.attn_implementation == "flex_attention"


def test_attention_path_per_device(monkeypatch):
    import orca.train_setup as T  # where choose_attention looks up _has_flash_attn

    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    monkeypatch.setattr(T, "_has_flash_attn", lambda: False)  # this machine has neither CUDA nor flash-attn
    assert T.choose_attention("auto", cpu) == "sdpa"  # no FlexAttention backward on CPU
    assert T.choose_attention("auto", cuda) == "flex_attention"  # packed without a dense mask
    monkeypatch.setattr(T, "_has_flash_attn", lambda: True)
    assert T.choose_attention("auto", cuda) == "flash_attention_2"  # varlen kernel, flat rows
    assert T.choose_attention("auto", cpu) == "sdpa"
    assert T.choose_attention("eager", cuda) == "eager"  # an explicit choice is kept


def test_flex_attention_training_on_cpu_is_one_clear_error(tmp_path):
    cfg_path = write_config(tmp_path, n1=4)
    raw = json.loads(cfg_path.read_text())
    raw.update(attn_implementation="flex_attention", device="cpu")
    cfg_path.write_text(json.dumps(raw))
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "train", "--config", str(cfg_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("orca-eval: error:")]
    assert len(lines) == 1 and "train.json: field 'attn_implementation': flex_attention trains only on a CUDA GPU" \
        in lines[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "stage1").exists()  # refused before any work


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("output_dir: o\nstages: [\n")
    with pytest.raises(UserError, match=r"bad.yaml:\d+: invalid YAML"):
        load_train_config(bad)
    with pytest.raises(UserError, match="missing field 'stages'"):
        parse_train_config({"output_dir": "o"}, tmp_path / "c.json")
    cfg = load_train_config(ROOT / "configs" / "tiny_two_stage.yaml")  # the shipped example validates
    assert [s.name for s in cfg.stages] == ["stage1", "stage2"] and cfg.stages[1].init == "stage:stage1"


def test_cli_reports_user_errors_with_exit_2(tmp_path):
    (tmp_path / "c.yaml").write_text("output_dir: o\nstages:\n  - name: a\n    data: d.jsonl\n    init: tiny:x\n")
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "train", "--config", str(tmp_path / "c.yaml")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "c.yaml: stages[0]: field 'init': tiny:SEED needs an integer seed" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("line, message", [
    ("warmup_ratio: 5", "field 'warmup_ratio' must be >= 0 and <= 1, got 5"),
    ("warmup_ratio: -0.1", "field 'warmup_ratio' must be >= 0 and <= 1"),
    ("min_lr_ratio: -1", "field 'min_lr_ratio' must be >= 0 and <= 1, got -1"),
    ("min_lr_ratio: 1.5", "field 'min_lr_ratio' must be >= 0 and <= 1"),
    ("grad_clip: -1", "field 'grad_clip' must be > 0, got -1"),
    ("grad_clip: 0", "field 'grad_clip' must be > 0"),
    ("weight_decay: -3", "field 'weight_decay' must be >= 0, got -3"),
    ("weight_decay: .inf", "field 'weight_decay' must be a finite number, got inf"),
    ("lr: .nan", "field 'lr' must be a finite number, got nan"),
    ("lr: -.inf", "field 'lr' must be a finite number"),
    ("lr: 0", "field 'lr' must be > 0"),
    ("max_examples: 0", "field 'max_examples' must be > 0, got 0"),
    ("max_examples: -1", "field 'max_examples' must be > 0, got -1"),
    ("max_examples: true", "field 'max_examples' must be int or null"),
    ("save_every_steps: -1", "field 'save_every_steps' must be >= 0"),
    ("warmup_steps: -2", "field 'warmup_steps' must be >= 0"),
    ("betas: [0.9, 1.5]", "field 'betas'[1] must be >= 0 and < 1"),
    ("betas: [.nan, 0.9]", "field 'betas'[0] must be a finite number"),
])
def test_training_config_refuses_out_of_range_values(tmp_path, capsys, line, message):
    (tmp_path / "d.jsonl").write_text('{"system": "", "query": "q", "response": "r"}\n')
    cfg = tmp_path / "train.yaml"
    cfg.write_text(f"output_dir: out\nstages:\n  - name: s1\n    data: d.jsonl\n    init: tiny:0\n    {line}\n")
    with pytest.raises(UserError, match=r"train.yaml: stages\[0\]: "):
        load_train_config(cfg)
    assert main(["train", "--config", str(cfg)]) == 2
    assert message in error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_training_config_top_level_log_every(tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("output_dir: out\nlog_every: 0\nstages: [{name: s, data: d.jsonl, init: 'tiny:0'}]\n")
    with pytest.raises(UserError, match=r"t.yaml: field 'log_every' must be > 0"):
        load_train_config(cfg)


def _weights(path: Path) -> dict:
    from safetensors.torch import load_file
    return load_file(str(path / "model.safetensors"))


@pytest.mark.slow
def test_two_stages_chain_and_write_loadable_hf_checkpoints(tmp_path):
    config = load_train_config(write_config(tmp_path))
    outputs = train(config)
    s1, s2 = outputs["stage1"], outputs["stage2"]
    assert s1 == tmp_path / "out" / "stage1" / "epoch-2" and s2 == tmp_path / "out" / "stage2" / "epoch-1"
    assert (tmp_path / "out" / "stage1" / "epoch-1" / "model.safetensors").exists()  # every epoch

    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained(s2)
    tok = AutoTokenizer.from_pretrained(s2)
    assert len(tok) == 32001 and tok.pad_token == "[[PAD]]" and model.config.pad_token_id == tok.pad_token_id

    # Stage 2 started from stage 1's weights, not from the random init: its first loss is
    # already near stage 1's last, far below stage 1's first.
    m1 = [json.loads(line) for line in (tmp_path / "out/stage1/metrics.jsonl").read_text().splitlines()]
    m2 = [json.loads(line) for line in (tmp_path / "out/stage2/metrics.jsonl").read_text().splitlines()]
    assert m1[-1]["loss"] < m1[0]["loss"] - 1.0
    assert m2[0]["loss"] < m1[0]["loss"] - 1.0
    stats = json.loads((tmp_path / "out/stage1/data_stats.json").read_text())
    assert stats["files"][0]["failed_skipped"] == 1 and stats["packing"]["examples"] == 40

    # Finished stages are skipped on a rerun: nothing is rewritten.
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert train(config) == outputs
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert before == after


@pytest.mark.slow
def test_resume_after_kill_matches_uninterrupted_run(tmp_path, tiny_init):
    ref_dir, kill_dir = tmp_path / "ref", tmp_path / "kill"
    ref_dir.mkdir()
    kill_dir.mkdir()
    overrides = dict(n1=24, epochs=2, save_every_steps=1, init=tiny_init, grad_accum=1)
    ref_cfg = load_train_config(write_config(ref_dir, **overrides))
    ref_cfg.stages = ref_cfg.stages[:1]
    train(ref_cfg)

    cfg_path = write_config(kill_dir, **overrides)
    raw = json.loads(cfg_path.read_text())
    raw["stages"] = raw["stages"][:1]
    cfg_path.write_text(json.dumps(raw))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "orca.train", str(cfg_path)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = kill_dir / "out" / "stage1" / "state.json"
    deadline = time.time() + 120
    try:
        # Kill mid-epoch-2, after at least one mid-epoch step checkpoint.
        while time.time() < deadline:
            if state.exists():
                pos = json.loads(state.read_text())["position"]
                if pos["epoch"] >= 1 and pos["step_in_epoch"] >= 1:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("training never reached epoch 2")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not json.loads(state.read_text()).get("done")

    resumed = train(load_train_config(cfg_path))["stage1"]
    a, b = _weights(ref_dir / "out/stage1/epoch-2"), _weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    names = sorted(p.name for p in (kill_dir / "out/stage1").iterdir())
    assert not [n for n in names if n.startswith(".tmp-")]
    # The resumed run did not redo finished epochs: one metrics line per step, no step twice... except
    # the steps between the last checkpoint and the kill, which are recomputed exactly once more.
    steps = [json.loads(line)["step"] for line in (kill_dir / "out/stage1/metrics.jsonl").read_text().splitlines()]
    assert sorted(set(steps)) == list(range(1, max(steps) + 1))
    assert steps.count(1) == 1  # resumed from a checkpoint, not started over


@pytest.mark.parametrize("crash_after_step", [3, 5])
def test_resumed_training_logs_each_step_once(tmp_path, tiny_init, monkeypatch, crash_after_step):
    """A crash after a step was logged but before the next checkpoint: the resumed run redoes
    the step and must not log it a second time."""
    import orca.train as train_mod
    from orca.train_config import parse_train_config

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"id": f"r{i}", "status": "ok", "model": "m", "system": "",
                                        "query": f"Q{i}: count from {i}",
                                        "response": " ".join(str(i + j) for j in range(12))}) + "\n"
                            for i in range(14)))
    raw = {"output_dir": "out", "seed": 0, "log_every": 1, "device": "cpu",
           "stages": [{"name": "s1", "data": "data.jsonl", "init": tiny_init, "epochs": 1, "lr": 1e-3,
                       "batch_size": 2, "max_len": 64, "save_every_steps": 2, "warmup_steps": 1}]}
    config = parse_train_config(raw, tmp_path / "train.json")
    real_append = train_mod.append_jsonl

    def crashing_append(path, rows):
        real_append(path, rows)
        if rows[0]["step"] == crash_after_step:
            raise RuntimeError("simulated kill")

    monkeypatch.setattr(train_mod, "append_jsonl", crashing_append)
    with pytest.raises(RuntimeError, match="simulated kill"):
        train_mod.train(config)
    metrics = tmp_path / "out" / "s1" / "metrics.jsonl"
    assert [r["step"] for r in read_jsonl(metrics).rows] == list(range(1, crash_after_step + 1))
    monkeypatch.setattr(train_mod, "append_jsonl", real_append)
    train_mod.train(config)
    steps = [r["step"] for r in read_jsonl(metrics).rows]
    total = sum(json.loads((tmp_path / "out" / "s1" / "data_stats.json").read_text())["steps_per_epoch"])
    assert total > crash_after_step + 1
    assert steps == list(range(1, total + 1))  # each step logged once


def test_training_works_without_deepspeed_installed(tmp_path, tiny_init):
    """DeepSpeed is imported only when a config asks for it."""
    cfg_path = write_config(tmp_path, n1=12, epochs=1, init=tiny_init)
    raw = json.loads(cfg_path.read_text())
    raw["stages"] = raw["stages"][:1]
    cfg_path.write_text(json.dumps(raw))
    code = ("import sys; sys.modules['deepspeed'] = None\n"  # any `import deepspeed` now fails
            "from orca.train import main; rc = main([sys.argv[1]])\n"
            "assert sys.modules['deepspeed'] is None; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, str(cfg_path)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out/stage1/epoch-1/model.safetensors").exists()
