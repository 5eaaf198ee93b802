"""The real-model CI gate (harness/gate.py): its committed baseline leaves room to fall, and the gate
rejects a damaged copy of SmolLM2-135M-Instruct."""
import json

import pytest

from harness import gate
from harness.io import sha256_file
from harness.results import load_run


def test_baseline_is_the_named_model_on_the_generated_sets(tmp_path):
    from orca.ci_regression import write_ci_data

    base = load_run(gate.BASELINE)
    meta = base.meta
    assert meta["model"]["spec"] == gate.GATE_MODEL and meta["mode"] == "loglikelihood"
    assert sorted(meta["tasks"]) == sorted(gate.GATE_TASKS) and meta["limit"] is None
    data = write_ci_data(tmp_path)  # what the gate evaluates is what the baseline evaluated
    assert meta["data"]["hashes"]["agieval/logiqa-en"] == sha256_file(
        f"{data['eval_data_dir']}/agieval/v1/logiqa-en.jsonl")
    assert meta["data"]["hashes"]["bbh/date_understanding"] == sha256_file(
        f"{data['eval_data_dir']}/bbh/date_understanding.json")


def test_baseline_is_far_above_chance():
    """A gate on tasks answered at chance could not tell a broken model from a good one."""
    tasks = load_run(gate.BASELINE, with_samples=False).summary["variants"]["sm1"]["tasks"]
    for task in gate.GATE_TASKS:
        assert tasks[task]["n"] == 60
        assert tasks[task]["ci95"][0] > 25 + 15, (task, tasks[task])  # four options: chance is 25 %


@pytest.mark.slow
def test_gate_fails_on_a_damaged_copy_and_passes_the_model(tmp_path, smollm2_checkpoint, capsys):
    damaged = gate.damage_checkpoint(smollm2_checkpoint, tmp_path / "damaged", noise=0.5, seed=0)
    assert gate.main(["--model", f"hf:{damaged}", "--work", str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err
    assert "gate failed" in err
    bad = load_run(tmp_path / "bad" / "run", with_samples=False).summary["variants"]["sm1"]["tasks"]
    base = load_run(gate.BASELINE, with_samples=False).summary["variants"]["sm1"]["tasks"]
    assert all(bad[t]["accuracy"] < base[t]["accuracy"] - 15 for t in gate.GATE_TASKS)
    # (That the undamaged model passes is what .ci/run's own `python -m harness.gate` shows.)


def test_damage_is_reproducible_and_leaves_norms(tmp_path, tiny_checkpoint):
    from safetensors.torch import load_file

    a = gate.damage_checkpoint(tiny_checkpoint, tmp_path / "a", noise=0.5, seed=1)
    b = gate.damage_checkpoint(tiny_checkpoint, tmp_path / "b", noise=0.5, seed=1)
    orig, wa, wb = (load_file(str(d / "model.safetensors")) for d in (tiny_checkpoint, a, b))
    assert all((wa[k] == wb[k]).all() for k in wa)
    changed = [k for k in wa if not (wa[k] == orig[k]).all()]
    assert changed and all(orig[k].ndim >= 2 for k in changed)
    assert json.loads((a / "config.json").read_text())["vocab_size"] == 32001
