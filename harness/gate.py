"""CI regression gate on a real small model: SmolLM2-135M-Instruct on a fixed subset.

    python -m harness.gate                        # evaluate the subset, compare with the baseline (exit 1 on a regression)
    python -m harness.gate --model hf:DIR         # the same subset and baseline for another checkpoint
    python -m harness.gate --refresh-baseline     # after an intended change: rewrite the committed baseline

What it runs (`gate_run_args`, the same `orca-eval` commands a person would type):

    orca-eval run --model smollm2-135m-instruct --suite <GATE_TASKS> --mode loglikelihood \\
        --limit <GATE_LIMIT> --system-message 1 --output results/runs/ci-gate-smollm2
    orca-eval compare results/baselines/smollm2-135m-instruct results/runs/ci-gate-smollm2 --fail-on-regression

The subset is short-prompt tasks (a forward pass of ~100 tokens per option keeps the gate to
minutes on 2 CPU cores) on which this model is well above chance, so that a damaged checkpoint
has room to fall: a gate on tasks answered at chance could not tell a broken model from a good
one. Loglikelihood mode is deterministic and needs no answer extraction. `damage_checkpoint`
makes the deliberately broken copy that tests/test_gate.py shows the gate rejects.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from harness.errors import UserError
from orca.paths import RESULTS_DIR

GATE_MODEL = "smollm2-135m-instruct"
# Chosen from a loglikelihood probe of the model on short-prompt tasks (first 30 examples each;
# see results/baselines/README-smollm2.md): the ones it answers clearly above chance.
GATE_TASKS = ("bbh/hyperbaton", "bbh/navigate", "bbh/sports_understanding", "agieval/sat-en-without-passage")
GATE_LIMIT = 40
BASELINE = RESULTS_DIR / "baselines" / GATE_MODEL
DEFAULT_WORK = RESULTS_DIR / "runs" / "ci-gate-smollm2"


def gate_run_args(model: str, output: Path, data_dir: str | None = None) -> list[str]:
    """The `orca-eval run` arguments of the gate's evaluation."""
    args = ["run", "--model", model, "--suite", ",".join(GATE_TASKS), "--mode", "loglikelihood",
            "--limit", str(GATE_LIMIT), "--system-message", "1", "--output", str(output), "--no-progress"]
    return args + (["--data-dir", data_dir] if data_dir else [])


def evaluate(model: str, output: Path, data_dir: str | None = None) -> Path:
    """Run the gate's evaluation into `output` (resumable: the output cache makes a rerun instant)."""
    from harness.cli import main as cli_main

    rc = cli_main(gate_run_args(model, output, data_dir))
    if rc:
        raise UserError(f"gate: `orca-eval {' '.join(gate_run_args(model, output, data_dir))}` exited {rc}")
    return output


def compare(baseline: Path, candidate: Path) -> int:
    """`orca-eval compare BASELINE CANDIDATE --fail-on-regression` (exit 1 on a regression)."""
    from harness.cli import main as cli_main

    return cli_main(["compare", str(baseline), str(candidate), "--fail-on-regression"])


def damage_checkpoint(src: Path, dst: Path, noise: float = 0.5, seed: int = 0) -> Path:
    """A deliberately broken copy of the checkpoint at `src`: Gaussian noise of `noise` times
    each weight matrix's own standard deviation added to every matrix (norms and biases kept).
    It exists to prove the gate rejects a damaged model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim >= 2:
                p.add_(torch.randn(p.shape, generator=gen) * (noise * p.std()))
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(src).save_pretrained(tmp)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    return dst


def refresh_baseline(candidate: Path) -> None:
    """Replace the committed baseline with this run (the old one is kept until the copy is whole)."""
    tmp = BASELINE.with_name(BASELINE.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(candidate, tmp)
    shutil.rmtree(BASELINE, ignore_errors=True)
    tmp.rename(BASELINE)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.gate", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=GATE_MODEL, help=f"model to gate (default {GATE_MODEL})")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"run directory (default {DEFAULT_WORK})")
    ap.add_argument("--baseline", type=Path, default=BASELINE, help=f"baseline run (default {BASELINE})")
    ap.add_argument("--data-dir", default=None, help="benchmark data (default: as orca-eval run)")
    ap.add_argument("--refresh-baseline", action="store_true", help="write this run as the new baseline")
    args = ap.parse_args(argv)
    try:
        if args.refresh_baseline and args.model != GATE_MODEL:
            raise UserError(f"--refresh-baseline: the baseline is {GATE_MODEL}'s, not {args.model}'s")
        if args.work.exists():  # a fresh directory: the output cache still makes unchanged requests instant
            shutil.rmtree(args.work)
        candidate = evaluate(args.model, args.work, args.data_dir)
        if args.refresh_baseline:
            refresh_baseline(candidate)
            print(f"baseline refreshed: {BASELINE} (commit results/baselines)")
            return 0
        if not (args.baseline / "summary.json").exists():
            raise UserError(f"{args.baseline}: no baseline run; create one with --refresh-baseline")
        return compare(args.baseline, candidate)
    except UserError as e:
        print(f"orca-eval: error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
