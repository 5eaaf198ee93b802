"""`orca-eval pipeline`'s config. Every section is checked before the first step, so nothing
runs on a bad one. Each step records the hash of its config section, chained to the steps it
builds on, in steps/<step>.json: a rerun with a different config is refused with one line
naming the changed fields -- never "done earlier" with the old result -- except the cheap
`compare` step, which is redone. (The pipeline end to end: tests/test_pipeline.py.)"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import ci_regression as ci
from harness.cli import main
from harness.pipeline import markers
from harness.pipeline import load_pipeline_config, run_pipeline
from helpers import error_line, one_line_error, write
from orca.errors import UserError


# ----------------------------------------------------------------------------- validation first

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


@pytest.mark.parametrize("yaml_text, expected", [
    ("run_dir: null\n", "field 'run_dir' must be a path (a string), got None"),
    ("run_dir: 5\n", "field 'run_dir' must be a path (a string), got 5"),
    ("run_dir: r\ndata: {s1: 7}\n", "data.s1 must be a path (a string), got 7"),
])
def test_pipeline_paths_of_the_wrong_json_type(tmp_path, capsys, yaml_text, expected):
    f = write(tmp_path / "p.yaml", yaml_text + "train: {stages: [{name: s1, init: 'tiny:0'}]}\n"
              + ("" if "data:" in yaml_text else "data: {s1: d.jsonl}\n"))
    assert expected in one_line_error(capsys, ["pipeline", "--config", f])


# ----------------------------------------------------------------------------- step records

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
