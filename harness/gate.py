"""CI regression gate on a real small model: SmolLM2-135M-Instruct on a fixed subset.

    .venv/bin/python -m harness.gate              # evaluate the subset, compare with the baseline (exit 1 on a regression)
    .venv/bin/python -m harness.gate --model hf:DIR         # the same subset and baseline for another checkpoint
    .venv/bin/python -m harness.gate --refresh-baseline     # after an intended change: rewrite the committed baseline

What it runs (`gate_run_args`, the same `orca-eval` commands a person would type, run as a person
runs them: in a child process, so the gate uses the command line without importing it):

    orca-eval run --model smollm2-135m-instruct --suite <GATE_TASKS> --limit 64 --mode generate \\
        --max-new-tokens 32 --system-message 1 --dtype bfloat16 --output WORK/run
    orca-eval compare results/baselines/smollm2-135m-instruct WORK/run --fail-on-regression

`compare` ends with the gate's minimal detectable effect: the regression it catches with 80 %
power at this n and the observed discordance (docs/compare.md), so a pass says how much it rules out.

The design (measured; the calculation is in results/baselines/README-smollm2.md):

- Mode: generate, the paper's protocol. The answer is extracted from the model's own text, so a
  damaged model that stops answering in the format falls, whatever chance is. Loglikelihood was
  measured as the alternative and rejected: on BBH (first 20 of each task) Gaussian weight noise
  of 0.1x each matrix's spread moved SmolLM2's loglikelihood accuracy by -0.2 points while
  flipping 40 % of the answers both ways; in generate mode the same copy lost 12 points.
- Tasks: the 13 BBH tasks on which the undamaged model is right on at least 4 of the first 20
  examples at this budget (a task it never gets right has nothing to lose).
- n: 13 x 64 = 832 paired examples, from `harness.compare.stats.required_n(4, 0.16)` = 825: an MDE of
  4 points at 80 % power for a change that flips 16 % of the answers, as the issue measured
  between SmolLM2 before and after the two-stage experiment.
- dtype: bfloat16, fixed for baseline and candidate on every machine.
- `damage_checkpoint` makes the noisy copies that bench/gate_power.py uses to show that the gate
  catches a 5-point regression, and that float32 and another batch size pass.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from orca.errors import UserError
from harness.paths import BASELINES_DIR, RUNS_DIR
from harness.run_dir import LOCK_NAME

GATE_MODEL = "smollm2-135m-instruct"
# The BBH tasks on which the undamaged model is right on >= 4 of the first 20 examples at 32 new
# tokens in bf16 (probe in results/baselines/README-smollm2.md); the other 14 are at or near 0 %
# there, mostly unparsed, so they have nothing to lose and would only cost time.
GATE_TASKS = ("bbh/boolean_expressions", "bbh/causal_judgement", "bbh/date_understanding",
              "bbh/disambiguation_qa", "bbh/formal_fallacies", "bbh/hyperbaton", "bbh/movie_recommendation",
              "bbh/navigate", "bbh/penguins_in_a_table", "bbh/snarks", "bbh/sports_understanding",
              "bbh/tracking_shuffled_objects_five_objects", "bbh/tracking_shuffled_objects_three_objects")
# required_n(4 points, 16 % discordance, alpha 0.05) = 825 pairs -> 64 per task (832).
GATE_LIMIT = 64
GATE_MAX_NEW_TOKENS = 32  # its answers are a word or a sentence; a damaged model's babble is cut here
# Fixed, not `auto`: the baseline and every candidate compute in the same type on any machine
# (auto is float32 on a CPU without bf16 units, and a precision change flips a few answers).
GATE_DTYPE = "bfloat16"
BASELINE = BASELINES_DIR / GATE_MODEL
DEFAULT_WORK = RUNS_DIR / "ci-gate-smollm2"


def gate_run_args(model: str, output: str | Path, dtype: str = GATE_DTYPE, batch_size: int | None = None) -> list[str]:
    """The `orca-eval run` arguments of the gate's evaluation (`dtype` and `batch_size` exist for
    the checks that changes which should not matter pass: bench/gate_power.py)."""
    output = Path(output)
    args = ["run", "--model", model, "--suite", ",".join(GATE_TASKS), "--limit", str(GATE_LIMIT),
            "--mode", "generate", "--max-new-tokens", str(GATE_MAX_NEW_TOKENS), "--system-message", "1",
            "--dtype", dtype, "--output", str(output), "--no-progress"]
    return args + (["--batch-size", str(batch_size)] if batch_size else [])


def evaluate(model: str, work: str | Path, dtype: str = GATE_DTYPE, batch_size: int | None = None) -> int:
    """Evaluate `model` on the gate's subset into WORK/run (the output cache makes a rerun of an
    unchanged model instant); returns the run's exit status (it has printed any error itself)."""
    work = Path(work)
    return orca_eval(gate_run_args(model, work / "run", dtype, batch_size))


def compare_with_baseline(baseline: str | Path, candidate: str | Path) -> int:
    """`orca-eval compare BASELINE CANDIDATE --fail-on-regression` (exit 1 on a regression; the same
    command CI logs show), once there is a baseline."""
    baseline = Path(baseline)
    candidate = Path(candidate)
    if not (baseline / "summary.json").exists():
        raise UserError(f"{baseline}: no baseline run; create one with --refresh-baseline")
    return orca_eval(["compare", str(baseline), str(candidate), "--fail-on-regression"])


def orca_eval(argv: list[str]) -> int:
    """`orca-eval ARGV` in a child process (this Python, `-m harness.cli`); its exit status. It
    prints its own output and one-line errors. Ctrl-C reaches it too: it keeps its finished work,
    says so and exits 130, which is returned once it has."""
    sys.stdout.flush()  # what this process printed first comes first
    sys.stderr.flush()
    child = subprocess.Popen([sys.executable, "-m", "harness.cli", *argv])
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue


def refresh_or_compare(candidate: str | Path, baseline: str | Path, refresh: Callable[[Path], Path] | None) -> int:
    """How both gates (this one and harness/ci_regression.py) end: with `refresh`, the candidate run
    becomes the committed baseline (`refresh` returns where it went); else it is compared with
    `baseline`, exit 1 on a significant regression."""
    candidate = Path(candidate)
    baseline = Path(baseline)
    if refresh is not None:
        print(f"baseline refreshed: {refresh(candidate)} (commit results/baselines)")
        return 0
    return compare_with_baseline(baseline, candidate)


def replace_directory(src: str | Path, dst: str | Path) -> None:
    """Copy `src` over `dst` (its run.json without local paths: harness.publish); the old
    `dst` is kept until the copy is whole."""
    src = Path(src)
    dst = Path(dst)
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(LOCK_NAME))  # the writer lock is no result
    if (tmp / "run.json").is_file():  # a committed baseline names no folder of this machine
        from harness.publish import make_portable

        make_portable(tmp)
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)


def damage_checkpoint(src: str | Path, dst: str | Path, noise: float = 0.5, seed: int = 0) -> Path:
    """A deliberately broken copy of the checkpoint at `src`: Gaussian noise of `noise` times
    each weight matrix's own standard deviation added to every matrix (norms and biases kept).
    It exists to prove the gate rejects a damaged model."""
    src = Path(src)
    dst = Path(dst)
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


def refresh_baseline(candidate: str | Path) -> Path:
    """Replace the committed baseline with this run, and the figures its README quotes."""
    from harness.doc_tables import update

    candidate = Path(candidate)
    replace_directory(candidate, BASELINE)
    update(BASELINES_DIR / "README-smollm2.md")
    return BASELINE


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m harness.gate", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=GATE_MODEL, help=f"model to gate (default {GATE_MODEL})")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"work directory (default {DEFAULT_WORK})")
    ap.add_argument("--baseline", type=Path, default=BASELINE, help=f"baseline run (default {BASELINE})")
    ap.add_argument("--refresh-baseline", action="store_true", help="write this run as the new baseline")
    ap.add_argument("--dtype", default=GATE_DTYPE, help=f"compute type of the candidate (default {GATE_DTYPE}, "
                    "the baseline's; another one is a check that precision does not fail the gate)")
    ap.add_argument("--batch-size", type=int, default=None, help="rows generated together (default: automatic)")
    args = ap.parse_args(argv)
    try:
        if args.refresh_baseline and (args.model != GATE_MODEL or args.dtype != GATE_DTYPE):
            raise UserError(f"--refresh-baseline: the baseline is {GATE_MODEL}'s in {GATE_DTYPE}, "
                            f"not {args.model}'s in {args.dtype}")
        if args.work.exists():  # a fresh directory: the output cache still makes unchanged requests instant
            shutil.rmtree(args.work)
        rc = evaluate(args.model, args.work, args.dtype, args.batch_size)
        if rc:
            return rc
        refresh = refresh_baseline if args.refresh_baseline else None
        return refresh_or_compare(args.work / "run", args.baseline, refresh)
    except UserError as e:
        print(f"orca-eval: error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
