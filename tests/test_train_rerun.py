"""Rerunning `train` on a stage that finished or was interrupted. A stage records the identity
of its config (orca.train_config.stage_identity: its fields, the hash of its data, seed,
tokenizer, precision, the stage it starts from) in config_identity.json; a rerun with a
different config is refused with one line naming the changed fields -- never "already
trained" with the old result -- while a change that leaves the result alone (logging, the
same directory written another way) is accepted. (The pipeline's steps: tests/test_pipeline_config.py.)"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from helpers import error_line, tree_bytes
from orca.errors import UserError
from orca.train import train
from orca.train_config import load_train_config, parse_train_config


def _teacher(path: Path, n: int, extra: str = "") -> None:
    path.write_text("".join(json.dumps({"id": f"r{i}", "status": "ok", "model": "m", "system": "",
                                        "query": f"Q{i}: count from {i}{extra}",
                                        "response": " ".join(str(i + j) for j in range(10))}) + "\n"
                            for i in range(n)))


def _train_config(tmp: Path, tiny_init: str, **stage) -> Path:
    s = {"name": "s1", "data": "data.jsonl", "init": tiny_init, "epochs": 1, "lr": 1e-3, "batch_size": 4,
         "max_len": 64, "warmup_steps": 1, **stage}
    path = tmp / "train.json"
    path.write_text(json.dumps({"output_dir": "out", "seed": 0, "device": "cpu", "log_every": 1,
                                "warn_not_decontaminated": False, "stages": [s]}))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_init):
    tmp = tmp_path_factory.mktemp("trained")
    _teacher(tmp / "data.jsonl", 8)
    cfg = _train_config(tmp, tiny_init)
    assert main(["train", "--config", str(cfg)]) == 0
    return tmp


@pytest.mark.parametrize("change, changed", [
    ({"lr": 2e-3}, "stage.lr"),
    ({"epochs": 2}, "stage.epochs"),
    ({"max_examples": 4}, "stage.max_examples"),
    ({"loss_on": "all"}, "stage.loss_on"),
    ({"max_len": 48}, "stage.max_len"),
    ({"betas": [0.9, 0.99]}, "stage.betas"),
])
def test_train_refuses_a_finished_stage_with_a_changed_config(trained, tiny_init, capsys, change, changed):
    cfg = _train_config(trained, tiny_init, **change)
    before = tree_bytes(trained / "out")
    assert main(["train", "--config", str(cfg)]) == 2
    err = error_line(capsys)
    assert "stage 's1'" in err and "different config" in err and changed in err
    assert tree_bytes(trained / "out") == before
    _train_config(trained, tiny_init)  # restore for the next member


def test_train_refuses_when_the_data_changed_or_the_seed(trained, tiny_init, capsys):
    cfg = _train_config(trained, tiny_init)
    data = trained / "data.jsonl"
    original = data.read_bytes()
    try:
        _teacher(data, 8, extra="!")  # same size, new content
        assert main(["train", "--config", str(cfg)]) == 2
        assert "changed: stage.data" in error_line(capsys)
    finally:
        data.write_bytes(original)
    raw = json.loads(cfg.read_text())
    raw["seed"] = 1
    cfg.write_text(json.dumps(raw))
    assert main(["train", "--config", str(cfg)]) == 2
    assert "changed: seed" in error_line(capsys)
    _train_config(trained, tiny_init)


def test_train_accepts_changes_that_do_not_change_the_result(trained, tiny_init, capsys):
    before = tree_bytes(trained / "out")
    for change in ({}, {"save_every_steps": 3}):
        cfg = _train_config(trained, tiny_init, **change)
        raw = json.loads(cfg.read_text())
        raw["log_every"] = 5  # logging only
        raw["output_dir"] = str(trained / "out")  # the same directory, written another way
        cfg.write_text(json.dumps(raw))
        assert main(["train", "--config", str(cfg)]) == 0
        assert "s1\t" in capsys.readouterr().out
    assert tree_bytes(trained / "out") == before  # nothing retrained, nothing rewritten
    _train_config(trained, tiny_init)


def test_train_refuses_to_resume_an_interrupted_stage_under_a_new_config(tmp_path, tiny_init, monkeypatch):
    import orca.train as train_mod

    _teacher(tmp_path / "data.jsonl", 12)
    config = load_train_config(_train_config(tmp_path, tiny_init, batch_size=2, save_every_steps=2))
    real = train_mod.append_jsonl

    def crash(path, rows):
        real(path, rows)
        if rows[0]["step"] == 3:
            raise RuntimeError("simulated kill")

    monkeypatch.setattr(train_mod, "append_jsonl", crash)
    with pytest.raises(RuntimeError):
        train(config)
    monkeypatch.setattr(train_mod, "append_jsonl", real)
    state = json.loads((tmp_path / "out/s1/state.json").read_text())
    assert state["checkpoint"] == "step-2" and (tmp_path / "out/s1/config_identity.json").exists()
    changed = load_train_config(_train_config(tmp_path, tiny_init, batch_size=2, save_every_steps=2, lr=5e-3))
    with pytest.raises(UserError, match=r"stage 's1': .* different config \(changed: stage.lr\)"):
        train(changed)
    assert json.loads((tmp_path / "out/s1/state.json").read_text()) == state
    train(config)  # the original config resumes and finishes
    assert json.loads((tmp_path / "out/s1/state.json").read_text())["done"]


def test_a_stage_killed_before_its_first_checkpoint_takes_the_new_config(trained, tiny_init, tmp_path):
    """Nothing was trained under the old config yet: nothing to mix, nothing refused."""
    import shutil

    stage = tmp_path / "out" / "s1"
    shutil.copytree(trained / "out" / "s1", stage)
    (stage / "state.json").unlink()  # as after a kill before the first checkpoint
    _teacher(tmp_path / "data.jsonl", 8)
    train(load_train_config(_train_config(tmp_path, tiny_init, lr=2e-3)))
    recorded = json.loads((stage / "config_identity.json").read_text())
    assert recorded["identity"]["stage"]["lr"] == 2e-3
    (stage / "config_identity.json").write_text("{oops")
    with pytest.raises(UserError, match="config_identity.json: corrupt record"):
        train(load_train_config(_train_config(tmp_path, tiny_init, lr=2e-3)))


def test_a_later_stage_depends_on_the_identity_of_the_stage_it_starts_from(tmp_path):
    from orca.train_config import identity_sha256, stage_identity

    _teacher(tmp_path / "a.jsonl", 4)
    raw = {"output_dir": "out", "stages": [{"name": "s1", "data": "a.jsonl", "init": "tiny:0", "lr": 1e-3},
                                           {"name": "s2", "data": "a.jsonl", "init": "stage:s1"}]}
    one = parse_train_config(raw, tmp_path / "t.json")
    raw["stages"][0]["lr"] = 2e-3
    two = parse_train_config(raw, tmp_path / "t.json")
    assert stage_identity(one, one.stages[1])["stage"] == stage_identity(two, two.stages[1])["stage"]
    assert identity_sha256(stage_identity(one, one.stages[1])) != identity_sha256(stage_identity(two, two.stages[1]))
