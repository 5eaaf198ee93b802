"""CI regression on a tiny checkpoint: train two stages, evaluate, gate against a committed baseline.

    .venv/bin/python -m harness.ci_regression            # the gate (exit 1 on a significant regression)
    .venv/bin/python -m harness.ci_regression --refresh-baseline   # after an intended change: rewrite the baseline
    .venv/bin/python -m harness.ci_regression --break-training     # loss on the prompt, not the response: must fail

What it does, in --work DIR (default results/runs/ci-tiny-regression, wiped first):
1. writes a fixed, project-generated training set in the teacher collector's format --
   stage 1 "ChatGPT" answers (short), stage 2 "GPT-4" answers (longer explanations) --
   and a fixed evaluation set in the AGIEval v1 JSONL and BBH JSON formats, under the
   task names agieval/logiqa-en and bbh/date_understanding (generated content, not the
   real tasks: a tiny model cannot learn those in minutes, but it can learn this);
2. runs the pipeline (harness/pipeline/): stage 1 from a seeded random-init tiny LLaMA,
   evaluate, stage 2 from stage 1, evaluate, compare the stages;
3. gates: `orca-eval compare BASELINE CANDIDATE --fail-on-regression`, BASELINE being
   results/baselines/ci-tiny (the stage-2 run committed by --refresh-baseline).

The learnable rule: "Which of the following is an animal?" (AGIEval format) and "... is a
colour?" (BBH format), with one right option and distractors that include the other
category, so a model must read the question as well as know the words. A random init
scores at chance (25%); the trained checkpoint scores far above it (see
results/baselines/README-ci.md); loss on the prompt instead of the response leaves it at
chance, which the gate reports as a regression (tests/test_ci_regression.py).
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

from orca.errors import UserError
from orca.io import write_json_atomic, write_jsonl_atomic, write_text_atomic
from harness.gate import refresh_or_compare, replace_directory
from harness.paths import BASELINES_DIR, RUNS_DIR

BASELINE = BASELINES_DIR / "ci-tiny"
RANDOM_INIT_BASELINE = BASELINES_DIR / "ci-tiny-random-init"
DEFAULT_WORK = RUNS_DIR / "ci-tiny-regression"
AGIEVAL_TASK, BBH_TASK = "agieval/logiqa-en", "bbh/date_understanding"
SUITE = f"{AGIEVAL_TASK},{BBH_TASK}"

ANIMALS = ["dog", "cat", "horse", "cow", "sheep", "goat", "mouse", "tiger", "lion", "bear", "wolf", "fox",
           "rabbit", "duck", "frog", "snake", "whale", "monkey", "camel", "zebra"]
COLOURS = ["red", "blue", "green", "yellow", "black", "white", "purple", "orange", "pink", "brown", "grey",
           "gold"]
OBJECTS = ["chair", "table", "lamp", "spoon", "window", "pencil", "bottle", "carpet", "door", "clock", "phone",
           "book", "plate", "shoe", "bucket", "ladder", "pillow", "mirror", "basket", "candle"]
LETTERS = "ABCD"
SYSTEM_IDS = [1, 1, 1, 3, 7, 16]  # mostly the empty message the evaluation uses, some others


def _question(rng: random.Random, kind: str) -> tuple[list[str], int]:
    """Four options: one of `kind`, one of the other asked category, two objects."""
    right, other = (ANIMALS, COLOURS) if kind == "animal" else (COLOURS, ANIMALS)
    opts = [rng.choice(other)] + rng.sample(OBJECTS, 2)
    rng.shuffle(opts)
    k = rng.randrange(4)
    opts.insert(k, rng.choice(right))
    return opts, k


def agieval_doc(rng: random.Random) -> dict:
    opts, k = _question(rng, "animal")
    return {"passage": None, "question": "Which of the following is an animal?",
            "options": [f"({LETTERS[i]}){o}" for i, o in enumerate(opts)], "label": LETTERS[k], "other": None}


def bbh_doc(rng: random.Random) -> dict:
    opts, k = _question(rng, "colour")
    text = "Which of the following is a colour?\nOptions:\n" + "\n".join(
        f"({LETTERS[i]}) {o}" for i, o in enumerate(opts))
    return {"input": text, "target": f"({LETTERS[k]})"}


def _teacher_line(rng: random.Random, i: int, stage: str, model: str, detailed: bool) -> dict:
    from harness.prompts import user_prompt
    from orca.system_messages import get_system_message

    if i % 2 == 0:
        doc = agieval_doc(rng)
        query = user_prompt(AGIEVAL_TASK, doc, "orca")
        k = LETTERS.index(doc["label"])
        answer, word, kind = doc["options"][k], doc["options"][k][3:], "an animal"
        others = [o[3:] for j, o in enumerate(doc["options"]) if j != k]
    else:
        doc = bbh_doc(rng)
        query = user_prompt(BBH_TASK, doc, "orca")
        lines = doc["input"].split("\n")[2:]
        k = LETTERS.index(doc["target"][1])
        answer, word, kind = lines[k], lines[k][4:], "a colour"
        others = [line[4:] for j, line in enumerate(lines) if j != k]
    # The answer comes first (as system messages 8 and 10 ask), then the explanation.
    response = f"{answer}\nA {word} is {kind}."
    if detailed:
        response += f" The others are not: {', '.join(others[:-1])} and {others[-1]} are not {kind}."
    sid = SYSTEM_IDS[i % len(SYSTEM_IDS)]
    return {"id": f"ci-{stage}-{i}", "status": "ok", "system_message_id": sid, "system": get_system_message(sid),
            "query": query, "model": model, "response": response, "finish_reason": "stop"}


def write_ci_data(root: str | Path, n_stage1: int = 320, n_stage2: int = 160, n_eval: int = 60) -> dict:
    """Write the fixed training and evaluation sets (same bytes every time)."""
    root = Path(root)
    rng = random.Random(20230605)
    stage1 = [_teacher_line(rng, i, "stage1", "gpt-3.5-turbo", detailed=False) for i in range(n_stage1)]
    stage2 = [_teacher_line(rng, i, "stage2", "gpt-4", detailed=True) for i in range(n_stage2)]
    # One failed request, as real collector output has: training must skip it.
    stage1.append({"id": "ci-stage1-failed", "status": "failed", "system_message_id": 1, "model": "gpt-3.5-turbo",
                   "error": "HTTP 429 after 8 attempts", "response": None})
    write_jsonl_atomic(root / "teacher" / "stage1.jsonl", stage1)
    write_jsonl_atomic(root / "teacher" / "stage2.jsonl", stage2)
    erng = random.Random(7)  # evaluation examples come from their own stream
    write_jsonl_atomic(root / "evaldata" / "agieval" / "v1" / "logiqa-en.jsonl",
                       [agieval_doc(erng) for _ in range(n_eval)])
    write_json_atomic(root / "evaldata" / "bbh" / "date_understanding.json",
                      {"examples": [bbh_doc(erng) for _ in range(n_eval)]})
    return {"stage1": str(root / "teacher" / "stage1.jsonl"), "stage2": str(root / "teacher" / "stage2.jsonl"),
            "eval_data_dir": str(root / "evaldata")}


def pipeline_config(work: str | Path, data: dict, loss_on: str = "response") -> dict:
    """The CI's pipeline config (a plain mapping; written to WORK/pipeline.json)."""
    work = Path(work)
    common = {"max_len": 256, "batch_size": 4, "grad_accum": 1, "warmup_ratio": 0.05, "min_lr_ratio": 0.1,
              "loss_on": loss_on, "weight_decay": 0.0}
    return {
        "run_dir": str(work / "run"),
        "data": {"stage1": data["stage1"], "stage2": data["stage2"]},
        "train": {"seed": 0, "device": "cpu", "attn_implementation": "sdpa", "log_every": 20,
                  "stages": [{"name": "stage1", "init": "tiny:0", "epochs": 3, "lr": 4e-3, **common},
                             {"name": "stage2", "init": "stage:stage1", "epochs": 2, "lr": 2e-3, **common}]},
        "evaluate": {"suite": SUITE, "mode": "loglikelihood", "system_messages": ["1"],
                     "data_dir": data["eval_data_dir"], "batch_size": 32,
                     # the committed baseline's type, on any machine (auto would be bf16 where the
                     # CPU has it): a tiny model's option scores are near ties that precision flips
                     "dtype": "float32"},
        "compare": {"alpha": 0.05, "min_delta": 1.0},
    }


def run_ci(work: str | Path = DEFAULT_WORK, loss_on: str = "response", console=None) -> Path:
    """Generate data and run the pipeline in `work` (wiped first); returns the stage-2 run directory."""
    work = Path(work)
    from harness.pipeline import parse_pipeline_config, run_pipeline

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    data = write_ci_data(work)
    raw = pipeline_config(work, data, loss_on)
    write_json_atomic(work / "pipeline.json", raw)
    cfg = parse_pipeline_config(raw, work / "pipeline.json")
    run_pipeline(cfg, console=console)
    return cfg.run_dir / "eval" / "stage2"


def evaluate_random_init(work: str | Path) -> Path:
    """The evaluation of the random-init checkpoint the CI starts from (for the baseline's README)."""
    work = Path(work)
    from harness.pipeline import evaluate_checkpoint, parse_pipeline_config

    cfg = parse_pipeline_config(json.loads((work / "pipeline.json").read_text()), work / "pipeline.json")
    return evaluate_checkpoint(cfg, cfg.train.output_dir / "init-tiny-0", work / "random-init")


def refresh_baseline(candidate: str | Path, random_init: str | Path) -> Path:
    """Replace the committed baselines with this run's evaluations (atomically per directory)."""
    candidate = Path(candidate)
    random_init = Path(random_init)
    from harness.compare.runs import compare_runs
    from harness.compare.render import render_markdown

    replace_directory(candidate, BASELINE)
    replace_directory(random_init, RANDOM_INIT_BASELINE)
    learned = compare_runs(RANDOM_INIT_BASELINE, BASELINE)
    write_text_atomic(BASELINE.parent / "README-ci.md", (
        "# CI regression baselines\n\n"
        "`ci-tiny/`: the stage-2 checkpoint of `.venv/bin/python -m harness.ci_regression` evaluated in "
        "loglikelihood mode on the CI's generated tasks (see harness/ci_regression.py). `ci-tiny-random-init/`: the random-init "
        "checkpoint that training starts from, on the same examples.\n\n"
        "Refresh after an intended change in training or evaluation:\n\n"
        "    .venv/bin/python -m harness.ci_regression --refresh-baseline\n"
        "    git add results/baselines && git commit -m 'Refresh CI baseline: <why>'\n\n"
        f"## What training buys: trained vs random init ({learned.verdict})\n\n" + render_markdown(learned)))
    return BASELINE


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m harness.ci_regression", description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"work directory (default {DEFAULT_WORK})")
    ap.add_argument("--baseline", type=Path, default=BASELINE, help=f"baseline run (default {BASELINE})")
    ap.add_argument("--refresh-baseline", action="store_true", help="write this run as the new baseline")
    ap.add_argument("--break-training", action="store_true",
                    help="train with the loss on the prompt instead of the response (the gate must fail)")
    args = ap.parse_args(argv)
    try:
        if args.refresh_baseline and args.break_training:
            raise UserError("--refresh-baseline with --break-training would commit a broken baseline")
        candidate = run_ci(args.work, "prompt" if args.break_training else "response")
        refresh = (lambda c: refresh_baseline(c, evaluate_random_init(args.work))) if args.refresh_baseline else None
        return refresh_or_compare(candidate, args.baseline, refresh)
    except UserError as e:
        print(f"orca-eval: error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
