"""CI regression: fixed generated data, the committed baseline learned something, and the gate
fires when training is broken on purpose. Also the pipeline's config errors and resumability."""
import json
import time

import pytest

from orca.errors import UserError
from orca.io import sha256_file
from harness.results import load_run
from harness import ci_regression as ci
from harness.gate import compare_with_baseline
from harness.pipeline import parse_pipeline_config


def test_generated_data_is_fixed_and_loads_as_agieval_and_bbh(tmp_path):
    from harness.suites import get_suite

    parse_agieval_jsonl, parse_bbh_json = get_suite("agieval").read_file, get_suite("bbh").read_file

    a = ci.write_ci_data(tmp_path / "a")
    b = ci.write_ci_data(tmp_path / "b")
    for key in ("stage1", "stage2"):
        assert sha256_file(a[key]) == sha256_file(b[key])
    docs = parse_agieval_jsonl(tmp_path / "a/evaldata/agieval/v1/logiqa-en.jsonl")
    bbh = parse_bbh_json(tmp_path / "a/evaldata/bbh/date_understanding.json")
    assert len(docs) == len(bbh) == 60
    # Answers are spread over the letters: a constant-letter model cannot pass.
    assert len({d["label"] for d in docs}) == 4 and len({d["target"] for d in bbh}) == 4
    lines = [json.loads(line) for line in open(a["stage1"])]
    assert {r["status"] for r in lines} == {"ok", "failed"}
    ok = [r for r in lines if r["status"] == "ok"]
    assert all(r["response"].startswith("(") for r in ok)
    eval_questions = {d["input"] for d in bbh}
    assert not eval_questions & {r["query"] for r in ok}  # evaluation examples are not training examples


def test_committed_baseline_matches_generator_and_beats_random_init(tmp_path):
    from harness.compare.runs import compare_runs

    base = load_run(ci.BASELINE)
    assert base.meta["mode"] == "loglikelihood"
    data = ci.write_ci_data(tmp_path)
    hashes = base.meta["data"]["hashes"]
    assert hashes[ci.AGIEVAL_TASK] == sha256_file(tmp_path / "evaldata/agieval/v1/logiqa-en.jsonl")
    assert hashes[ci.BBH_TASK] == sha256_file(tmp_path / "evaldata/bbh/date_understanding.json")
    assert data["eval_data_dir"]
    learned = compare_runs(ci.RANDOM_INIT_BASELINE, ci.BASELINE)
    assert learned.verdict == "improved"
    assert {t.task for t in learned.tasks if t.verdict == "improved"} == {ci.AGIEVAL_TASK, ci.BBH_TASK}
    for t in learned.tasks:
        assert t.delta >= 20  # points, far beyond noise


@pytest.mark.parametrize("patch, message", [
    ({"data": {}}, r"stage 'stage1': give its teacher data in exactly one of"),
    ({"bogus": 1}, r"unknown field 'bogus'"),
    ({"evaluate": {"suite": 3}}, r"evaluate: field 'suite' has the wrong type"),
    ({"collect": {"stage1": {"model": "gpt-4"}}}, r"stage 'stage1': give its teacher data in exactly one"),
])
def test_pipeline_config_errors(tmp_path, patch, message):
    raw = ci.pipeline_config(tmp_path, {"stage1": "a.jsonl", "stage2": "b.jsonl", "eval_data_dir": "e"})
    raw.update(patch)
    with pytest.raises(UserError, match=message):
        parse_pipeline_config(raw, tmp_path / "p.yaml")


def test_refuses_to_commit_a_broken_baseline_before_training(tmp_path, capsys):
    assert ci.main(["--refresh-baseline", "--break-training", "--work", str(tmp_path / "work")]) == 2
    assert capsys.readouterr().err == ("orca-eval: error: --refresh-baseline with --break-training would commit a "
                                       "broken baseline\n")
    assert not (tmp_path / "work").exists()  # refused before any training


@pytest.mark.slow
def test_gate_fires_when_loss_is_on_the_prompt(tmp_path, capfd):
    """Broken on purpose: the loss on the prompt instead of the teacher's response."""
    candidate = ci.run_ci(tmp_path / "work", loss_on="prompt")
    summary = load_run(candidate, with_samples=False).summary["variants"]["sm1"]["tasks"]
    base = load_run(ci.BASELINE, with_samples=False).summary["variants"]["sm1"]["tasks"]
    assert compare_with_baseline(ci.BASELINE, candidate) == 1
    out = capfd.readouterr().out  # the gate's compare is an `orca-eval` child process
    assert "regress" in out.lower()
    assert summary[ci.BBH_TASK]["accuracy"] < base[ci.BBH_TASK]["accuracy"] - 20

    # The pipeline resumes by done-markers: a rerun redoes nothing.
    from harness.pipeline import run_pipeline
    cfg = parse_pipeline_config(json.loads((tmp_path / "work/pipeline.json").read_text()),
                                tmp_path / "work/pipeline.json")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "work/run/train").rglob("*") if p.is_file()}
    t0 = time.perf_counter()
    run_pipeline(cfg)
    assert time.perf_counter() - t0 < 10
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "work/run/train").rglob("*") if p.is_file()}
    assert before == after
