"""The real-model CI gate (harness/gate.py): its committed baseline leaves room to fall, and the gate
rejects a damaged copy of SmolLM2-135M-Instruct."""
import json

import pytest

from harness import gate
from harness.results import load_run


def test_baseline_is_the_gate_subset_of_the_named_model():
    meta = load_run(gate.BASELINE, with_samples=False).meta
    assert meta["model"]["spec"] == gate.GATE_MODEL and meta["model"]["gguf"]["quantization"] == "Q4_1"
    assert meta["mode"] == "generate" and meta["limit"] == gate.GATE_LIMIT
    assert meta["decoding"]["max_new_tokens"] == gate.GATE_MAX_NEW_TOKENS and not meta["decoding"]["do_sample"]
    assert sorted(meta["tasks"]) == sorted(gate.GATE_TASKS) and list(meta["variants"]) == ["sm1"]


def test_baseline_leaves_room_to_fall():
    """Every gate task is answered right often enough that losing it is significant on its own
    (exact McNemar, 6 lost and none gained: p = 0.03); a task at 0 % could only hide a regression."""
    tasks = load_run(gate.BASELINE, with_samples=False).summary["variants"]["sm1"]["tasks"]
    for task in gate.GATE_TASKS:
        assert tasks[task]["n"] == gate.GATE_LIMIT and tasks[task]["correct"] >= 6, (task, tasks[task])


@pytest.mark.slow
def test_gate_fails_on_a_damaged_copy(tmp_path, smollm2_checkpoint, capsys):
    damaged = gate.damage_checkpoint(smollm2_checkpoint, tmp_path / "damaged", noise=0.5, seed=0)
    assert gate.main(["--model", f"hf:{damaged}", "--work", str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err
    assert "gate failed" in err
    bad = load_run(tmp_path / "bad" / "run", with_samples=False).summary["variants"]["sm1"]["suites"]["bbh"]
    base = load_run(gate.BASELINE, with_samples=False).summary["variants"]["sm1"]["suites"]["bbh"]
    assert bad["accuracy"] < base["accuracy"] - 20
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
