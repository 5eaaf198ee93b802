"""Issue 13, class 4 -- stale results after a config change.

A training stage records the identity of its config (orca.train_config.stage_identity:
its fields, the hash of its data, seed, tokenizer, precision, the stage it starts from)
in config_identity.json; each pipeline step records the hash of its config section, chained to the
steps it builds on, in steps/<step>.json. A rerun with a different config is refused with
one line naming the changed fields -- never "already trained" / "done earlier" with the
old result -- except the pipeline's cheap `compare` step, which is redone. `pipeline`
checks every section before its first step."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from orca.errors import UserError
from harness import ci_regression as ci
from harness.pipeline import markers
from harness.pipeline import load_pipeline_config, run_pipeline
from orca.train import train
from orca.train_config import load_train_config, parse_train_config
from helpers import error_line


def _files(path: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny_init(tmp_path_factory):
    from orca.tiny import make_tiny_llama
    return str(make_tiny_llama(tmp_path_factory.mktemp("init") / "tiny", seed=0))


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


# ----------------------------------------------------------------------------- train

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
    before = _files(trained / "out")
    assert main(["train", "--config", str(cfg)]) == 2
    err = error_line(capsys)
    assert "stage 's1'" in err and "different config" in err and changed in err
    assert _files(trained / "out") == before
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
    before = _files(trained / "out")
    for change in ({}, {"save_every_steps": 3}):
        cfg = _train_config(trained, tiny_init, **change)
        raw = json.loads(cfg.read_text())
        raw["log_every"] = 5  # logging only
        raw["output_dir"] = str(trained / "out")  # the same directory, written another way
        cfg.write_text(json.dumps(raw))
        assert main(["train", "--config", str(cfg)]) == 0
        assert "s1\t" in capsys.readouterr().out
    assert _files(trained / "out") == before  # nothing retrained, nothing rewritten
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


# ----------------------------------------------------------------------------- pipeline: validation first

def _pipeline_raw(tmp: Path, data: dict, tiny_init: str) -> dict:
    common = {"max_len": 128, "batch_size": 4, "epochs": 1, "warmup_steps": 1}
    return {"run_dir": "run",
            "data": {"stage1": data["stage1"], "stage2": data["stage2"]},
            "train": {"seed": 0, "device": "cpu", "log_every": 50,
                      "stages": [{"name": "stage1", "init": tiny_init, "lr": 3e-3, **common},
                                 {"name": "stage2", "init": "stage:stage1", "lr": 1e-3, **common}]},
            "evaluate": {"suite": "bbh/date_understanding", "mode": "loglikelihood", "limit": 4,
                         "system_messages": ["1"], "data_dir": data["eval_data_dir"], "batch_size": 8},
            "compare": {"alpha": 0.05, "min_delta": 1.0}}


@pytest.fixture(scope="module")
def ci_data(tmp_path_factory):
    return ci.write_ci_data(tmp_path_factory.mktemp("ci"), n_stage1=8, n_stage2=8, n_eval=6)


def _set(raw: dict, dotted: str, value) -> dict:
    *path, last = dotted.split(".")
    node = raw
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    return raw


@pytest.mark.parametrize("dotted, value, message", [
    ("evaluate.suite", "bbh/nope", "evaluate: unknown suite or task"),
    ("evaluate.mode", "vibes", "evaluate: --mode 'vibes'"),
    ("evaluate.limit", 0, "evaluate: --limit must be >= 1"),
    ("evaluate.system_messages", ["-1"], "evaluate: unknown system message id -1"),
    ("evaluate.system_messages", [17], "evaluate: unknown system message id 17"),
    ("evaluate.prompt_style", "fancy", "evaluate: --prompt-style 'fancy'"),
    ("compare.alpha", 5.0, "compare: field 'alpha' must be > 0 and < 1"),
    ("compare.min_delta", float("nan"), "compare: field 'min_delta' must be a finite number"),
    ("data.stage2", "missing.jsonl", "stage 'stage2': teacher data"),
    ("train.stages.0.warmup_ratio", 5, "field 'warmup_ratio' must be >= 0 and <= 1"),
])
def test_pipeline_checks_every_section_before_the_first_step(tmp_path, tiny_init, ci_data, capsys,
                                                             dotted, value, message):
    raw = _set(_pipeline_raw(tmp_path, ci_data, tiny_init), dotted, value)
    cfg = tmp_path / "pipeline.json"
    cfg.write_text(json.dumps(raw))
    with pytest.raises(UserError, match="pipeline.json"):
        load_pipeline_config(cfg)
    assert main(["pipeline", "--config", str(cfg)]) == 2
    assert message in error_line(capsys)
    assert not (tmp_path / "run").exists()  # nothing ran


@pytest.mark.parametrize("section, message", [
    ({"rpm": -5}, "collect.stage1: field 'rpm' must be > 0"),
    ({"tpm": float("inf")}, "collect.stage1: field 'tpm' must be a finite number"),
    ({"temperature": float("nan")}, "collect.stage1: field 'temperature' must be a finite number"),
    ({"concurrency": 0}, "collect.stage1: field 'concurrency' must be >= 1"),
    ({"queries": "nope.jsonl"}, "collect.stage1: field 'queries'"),
])
def test_pipeline_checks_collect_and_sample_sections(tmp_path, tiny_init, ci_data, capsys, section, message):
    raw = _pipeline_raw(tmp_path, ci_data, tiny_init)
    del raw["data"]["stage1"]
    (tmp_path / "q.jsonl").write_text('{"id": 1, "query": "q", "system_message_id": 1}\n')
    raw["collect"] = {"stage1": {"model": "gpt-4", "queries": "q.jsonl", **section}}
    cfg = tmp_path / "pipeline.json"
    cfg.write_text(json.dumps(raw))
    assert main(["pipeline", "--config", str(cfg)]) == 2
    assert message in error_line(capsys)
    raw["collect"]["stage1"] = {"model": "gpt-4", "queries": "flan5m"}
    raw["sample"] = {"flan": ["flan.jsonl"], "scale": 2}
    cfg.write_text(json.dumps(raw))
    assert main(["pipeline", "--config", str(cfg)]) == 2
    assert "sample: field 'scale' must be > 0 and <= 1" in error_line(capsys)
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- pipeline: step records

def test_step_records_refuse_a_changed_config_and_redo_compare(tmp_path):
    cfg = markers.PipelineConfig(run_dir=tmp_path / "run", train=None, source=tmp_path / "p.yaml")
    calls = []
    logged = []

    def fn():
        calls.append(1)
        return {"result": len(calls)}

    assert markers.run_step(cfg, "evaluate-s1", fn, logged.append, {"evaluate": {"limit": 4}}) == {"result": 1}
    assert markers.run_step(cfg, "evaluate-s1", fn, logged.append, {"evaluate": {"limit": 4}}) == {"result": 1}
    assert len(calls) == 1 and "done earlier" in logged[-1]
    with pytest.raises(UserError, match=r"step evaluate-s1 was done with a different config "
                                        r"\(changed: evaluate.limit\)"):
        markers.run_step(cfg, "evaluate-s1", fn, logged.append, {"evaluate": {"limit": 8}})
    assert len(calls) == 1
    # compare only reads the evaluations: redone, and its record updated
    assert markers.run_step(cfg, "compare", fn, logged.append, {"compare": {"min_delta": 1.0}}) == {"result": 2}
    assert markers.run_step(cfg, "compare", fn, logged.append, {"compare": {"min_delta": 2.0}}) == {"result": 3}
    assert "config changed: compare.min_delta" in logged[-1]
    assert markers.run_step(cfg, "compare", fn, logged.append, {"compare": {"min_delta": 2.0}}) == {"result": 3}
    # a marker written before hashes were kept is taken as it is; a corrupt one is one clear line
    (tmp_path / "run/steps/sample.json").write_text('{"queries": "q"}')
    assert markers.run_step(cfg, "sample", fn, logged.append, {"sample": {}}) == {"queries": "q"}
    (tmp_path / "run/steps/sample.json").write_text('{"queries": ')
    with pytest.raises(UserError, match="corrupt step record"):
        markers.run_step(cfg, "sample", fn, logged.append, {"sample": {}})


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


@pytest.mark.slow
def test_pipeline_rerun_with_a_changed_config(tmp_path, tiny_init, ci_data, capsys):
    raw = _pipeline_raw(tmp_path, ci_data, tiny_init)
    cfg = tmp_path / "pipeline.json"
    cfg.write_text(json.dumps(raw))
    run_pipeline(load_pipeline_config(cfg))
    steps = tmp_path / "run" / "steps"
    records = {p.name: p.read_bytes() for p in steps.glob("*.json") if p.name != "report.json"}
    assert sorted(records) == ["compare.json", "decontaminate.json", "evaluate-stage1.json", "evaluate-stage2.json",
                               "train-stage1.json", "train-stage2.json"]

    # unchanged: every step done earlier, no record rewritten
    run_pipeline(load_pipeline_config(cfg))
    assert {p: (steps / p).read_bytes() for p in records} == records

    for dotted, value, step in (("train.stages.0.lr", 1e-2, "train-stage1"),
                                ("train.stages.1.epochs", 2, "train-stage2"),
                                ("evaluate.limit", 5, "evaluate-stage1")):
        changed = _set(json.loads(json.dumps(raw)), dotted, value)
        cfg.write_text(json.dumps(changed))
        capsys.readouterr()
        assert main(["pipeline", "--config", str(cfg)]) == 2
        err = capsys.readouterr().err  # progress lines of the steps done earlier, then the error
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("orca-eval: error: ")
        assert f"step {step} was done with a different config" in err, err
        assert {p: (steps / p).read_bytes() for p in records} == records

    # compare settings: redone, not refused
    cfg.write_text(json.dumps(_set(json.loads(json.dumps(raw)), "compare.min_delta", 5.0)))
    assert main(["pipeline", "--config", str(cfg)]) == 0
    assert json.loads((steps / "compare.json").read_text())["config"]["compare"]["min_delta"] == 5.0
    assert json.loads((tmp_path / "run/compare.json").read_text())["settings"]["min_delta"] == 5.0
