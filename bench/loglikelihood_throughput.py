"""Loglikelihood mode: our shared-prefix scorer vs lm-eval's `HFLM.loglikelihood`.

The same loaded model (one HFLM instance, SmolLM2-135M-Instruct by default), the same
(prompt, option) pairs that `orca-eval run --mode loglikelihood` scores for AGIEval
(the first N questions of each task, spread evenly, system message sm1, the model's
chat template), measured in the same process in alternating blocks after a warm-up of
both. Also checks that both give the same numbers. Last line: one JSON object.

    .venv/bin/python bench/loglikelihood_throughput.py [--model smollm2-135m-instruct] [--questions 40]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def agieval_questions(tokenizer, n: int) -> list[tuple[str, list[str]]]:
    """(prompt, options) for `n` AGIEval questions, taken round-robin over tasks."""
    from harness.data import SUITES, load_task_data
    from harness.prompts import user_prompt
    from orca.paths import data_dir
    from orca.system_messages import SYSTEM_MESSAGES
    from orca.template import render_for_tokenizer

    tasks = SUITES["agieval"]
    docs = {t: load_task_data(t, str(data_dir())).docs for t in tasks}
    out = []
    for i in range(n):
        task = tasks[i % len(tasks)]
        doc = docs[task][i // len(tasks)]
        prompt = render_for_tokenizer(tokenizer, user_prompt(task, doc), SYSTEM_MESSAGES[1])
        out.append((prompt, list(doc["options"])))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct", help="any --model of orca-eval run (hf/gguf/named)")
    ap.add_argument("--questions", type=int, default=40)
    ap.add_argument("--batch", type=int, default=16, help="HFLM batch size (orca-eval run's default)")
    ap.add_argument("--blocks", type=int, default=4, help="timed blocks, alternating which side runs first")
    args = ap.parse_args()

    from orca.quiet import quiet_libraries
    quiet_libraries()
    import torch
    from lm_eval.api.instance import Instance

    from harness.models import make_backend
    from harness.models.loglikelihood import shared_prefix_loglikelihood
    from harness.runner import RunConfig

    backend = make_backend(args.model, RunConfig(model=args.model, batch_size=args.batch, device="cpu"))
    lm = backend.lm
    questions = agieval_questions(lm.tokenizer, args.questions)
    pairs = [(prompt, option) for prompt, options in questions for option in options]

    def hflm(ps):
        return [lp for lp, _ in lm.loglikelihood([Instance("loglikelihood", {}, p, i) for i, p in enumerate(ps)],
                                                 disable_tqdm=True)]

    warm = [pairs[0], pairs[1]]
    hflm(warm)
    shared_prefix_loglikelihood(lm, warm)

    # Blocks of questions, alternating which side goes first, so that a change in the
    # machine's load (it is shared) falls on both sides alike.
    ours, theirs, t_ours, t_hflm = [], [], 0.0, 0.0
    per_block = max(1, len(questions) // args.blocks)
    for b, start in enumerate(range(0, len(questions), per_block)):
        block = [(p, o) for p, options in questions[start: start + per_block] for o in options]
        sides = [("ours", lambda: shared_prefix_loglikelihood(lm, block)), ("hflm", lambda: hflm(block))]
        for name, fn in (sides if b % 2 == 0 else sides[::-1]):
            t0 = time.perf_counter()
            got = fn()
            el = time.perf_counter() - t0
            if name == "ours":
                ours += got
                t_ours += el
            else:
                theirs += got
                t_hflm += el
        print(f"block {b + 1}: ours {t_ours:.1f} s, HFLM {t_hflm:.1f} s so far", file=sys.stderr, flush=True)

    diff = max(abs(a - b) for a, b in zip(ours, theirs))
    context_tokens = sum(len(lm.tok_encode(p)) for p, _ in questions)
    print(f"{args.model}: {len(questions)} AGIEval questions, {len(pairs)} (prompt, option) pairs, "
          f"{context_tokens} context tokens, {torch.get_num_threads()} threads")
    print(f"ours (shared prefix): {t_ours:.1f} s ({len(questions) / t_ours:.2f} questions/s)")
    print(f"HFLM.loglikelihood:   {t_hflm:.1f} s ({len(questions) / t_hflm:.2f} questions/s)")
    print(f"speed-up {t_hflm / t_ours:.2f}x; largest |log-prob difference| {diff:.2e}")
    print(json.dumps({"bench": "loglikelihood_throughput", "model": args.model, "fingerprint": backend.fingerprint,
                      "questions": len(questions), "pairs": len(pairs), "hflm_batch_size": args.batch,
                      "threads": torch.get_num_threads(), "ours_s": round(t_ours, 2), "hflm_s": round(t_hflm, 2),
                      "ours_questions_per_s": round(len(questions) / t_ours, 3),
                      "hflm_questions_per_s": round(len(questions) / t_hflm, 3),
                      "speedup": round(t_hflm / t_ours, 2), "max_abs_logprob_diff": diff}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
