"""The real-model CI gate (harness/gate.py): its committed baseline leaves room to fall, and the gate
rejects a damaged copy of SmolLM2-135M-Instruct."""
import json

import pytest

from harness import gate
from harness.results import load_run
from orca.errors import UserError
from helpers import pair_of_runs  # noqa: E402  (tests/ is on sys.path under pytest)


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
def test_gate_fails_on_a_damaged_copy(tmp_path, smollm2_checkpoint, capfd):
    damaged = gate.damage_checkpoint(smollm2_checkpoint, tmp_path / "damaged", noise=0.5, seed=0)
    assert gate.main(["--model", f"hf:{damaged}", "--work", str(tmp_path / "bad")]) == 1
    err = capfd.readouterr().err  # from the `orca-eval` child processes the gate runs
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


def test_refresh_or_compare_gates_or_replaces_the_baseline(tmp_path, capsys):
    """The end both gates share (harness/gate.py, harness/ci_regression.py), on synthetic runs."""
    base, cand = pair_of_runs(tmp_path, {"bbh/navigate": (200, 150, 60, 0)})
    with pytest.raises(UserError, match="no baseline run; create one with --refresh-baseline"):
        gate.refresh_or_compare(cand, tmp_path / "missing", None)
    assert gate.refresh_or_compare(cand, base, None) == 1  # 60 examples lost: a regression
    assert gate.refresh_or_compare(base, base, None) == 0
    committed = tmp_path / "committed"
    committed.mkdir()
    (committed / "stale.txt").write_text("old baseline")

    def refresh(run):
        gate.replace_directory(run, committed)
        return committed

    capsys.readouterr()
    assert gate.refresh_or_compare(cand, base, refresh) == 0
    assert capsys.readouterr().out == f"baseline refreshed: {committed} (commit results/baselines)\n"
    assert (committed / "summary.json").read_bytes() == (cand / "summary.json").read_bytes()
    assert not (committed / "stale.txt").exists() and not committed.with_name("committed.partial").exists()
