"""`orca-eval pipeline` decontaminates by default, after collection and before training:
the trained stage never sees a removed line, and the report stays in the run directory."""
import json

import pytest

import orca.train
from harness import ci_regression as ci
from orca.cli_train import warn_not_decontaminated
from harness.pipeline import load_pipeline_config, run_pipeline
from orca.train_config import parse_train_config

pytestmark = pytest.mark.slow


def test_trained_stage_never_sees_a_removed_line(tmp_path, data_dir, monkeypatch, capsys):
    data = ci.write_ci_data(tmp_path / "ci", n_stage1=10, n_stage2=2, n_eval=8)
    rows = [json.loads(line) for line in open(data["stage1"])]
    lsat = json.loads(open(data_dir / "agieval/v1/lsat-lr.jsonl").readline())
    snarks = json.load(open(data_dir / "bbh/snarks.json"))["examples"][3]
    planted = [
        {"id": "leak-agieval", "status": "ok", "system_message_id": 1, "model": "gpt-3.5-turbo",
         "query": f"{lsat['passage']}\n{lsat['question']}\n" + " ".join(lsat["options"]), "response": "(B)"},
        {"id": "leak-bbh", "status": "ok", "system_message_id": 1, "model": "gpt-3.5-turbo",
         "query": "Please help: " + snarks["input"].upper(), "response": snarks["target"]},
    ]
    rows[3:3] = planted[:1]
    rows[7:7] = planted[1:]
    teacher = tmp_path / "teacher.jsonl"
    teacher.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg_path = tmp_path / "pipeline.yaml"
    cfg_path.write_text(f"""
run_dir: run
data: {{stage1: teacher.jsonl}}
train:
  seed: 0
  device: cpu
  stages:
    - {{name: stage1, init: "tiny:0", epochs: 1, lr: 3.0e-3, batch_size: 2, max_len: 256}}
evaluate: {{suite: bbh/date_understanding, mode: loglikelihood, limit: 4, data_dir: "{data['eval_data_dir']}"}}
""")
    seen = []
    real_tokenize = orca.train.tokenize_examples

    def spy(tokenizer, examples, *args, **kwargs):   # the examples training really tokenizes
        seen.extend(examples)
        return real_tokenize(tokenizer, examples, *args, **kwargs)

    monkeypatch.setattr(orca.train, "tokenize_examples", spy)
    report_md = run_pipeline(load_pipeline_config(cfg_path))

    run = tmp_path / "run"
    steps = sorted(p.stem for p in (run / "steps").glob("*.json"))
    assert steps == sorted(["decontaminate", "train-stage1", "evaluate-stage1", "report"])
    ok_ids = {r["id"] for r in rows if r["status"] == "ok"}
    trained_ids = {e["id"] for e in seen}
    assert trained_ids == ok_ids - {"leak-agieval", "leak-bbh"}
    assert not any(p["query"] in (e["query"] for e in seen) for p in planted)

    record = run / "decontamination" / "stage1"
    removed = [json.loads(line) for line in (record / "removed.jsonl").read_text().splitlines()]
    assert {r["row"]["id"]: r["benchmark_task"] for r in removed} == {"leak-agieval": "agieval/lsat-lr",
                                                                        "leak-bbh": "bbh/snarks"}
    report = json.loads((record / "decontamination.json").read_text())
    assert report["removed"] == 2 and report["files"][0]["file"] == str(teacher)
    stats = json.loads((run / "train/stage1/data_stats.json").read_text())
    assert [f["file"] for f in stats["files"]] == [str(record / "teacher.jsonl")]
    assert "removed 2 of" in open(report_md).read()

    # the clean copy carries its record: `orca-eval train` on it would not warn
    stage = {"name": "s", "init": "tiny:0", "data": str(record / "teacher.jsonl")}
    cfg = parse_train_config({"output_dir": "o", "stages": [stage]}, tmp_path / "t.yaml")
    capsys.readouterr()
    warn_not_decontaminated(cfg)
    assert capsys.readouterr().err == ""


def test_train_warns_once_per_stage_without_a_record_and_the_flag_silences_it(tmp_path, capsys):
    from harness.cli import main

    cfg = tmp_path / "c.yaml"
    (tmp_path / "d.jsonl").write_text(json.dumps({"query": "q", "response": "r"}) + "\n")
    cfg.write_text("output_dir: out\nstages:\n  - {name: s1, init: 'tiny:0', data: d.jsonl, max_examples: 1}\n"
                   "  - {name: s2, init: 'stage:s1', data: d.jsonl}\n")
    from orca.train_config import load_train_config
    warn_not_decontaminated(load_train_config(cfg))
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("orca-eval: warning: stage 's") for line in err)
    assert "d.jsonl has no decontamination record" in err[0] and "warn_not_decontaminated: false" in err[0]
    cfg.write_text(cfg.read_text() + "warn_not_decontaminated: false\n")
    assert load_train_config(cfg).warn_not_decontaminated is False
    cfg.write_text(cfg.read_text().replace("false", "'no'"))
    assert main(["train", "--config", str(cfg)]) == 2
    assert "field 'warn_not_decontaminated' must be bool" in capsys.readouterr().err
