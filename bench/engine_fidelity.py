"""Does the generation engine (harness/models/engine.py) give what one-at-a-time `model.generate` gives?

BBH prompts, N a task (the run's exact prompt strings: chat template, sm1's empty system
turn), greedy, the default 512-token budget, in float32 unless --dtype says otherwise:

1. reference: each prompt alone through transformers' `model.generate` (stop strings,
   EOS, the budget), decoded and cut at the first stop string as lm-eval cuts it;
2. engine: all prompts through `GenerationEngine` in one call (its automatic batch);
3. the equality table: identical outputs, and for each difference the first token where
   the two diverge and the reference logit margin between the two tokens there (a near-tie
   that batched float rounding can flip), plus both answers' extraction and correctness;
4. accuracy of both with the paired (McNemar) test.

The reference is slow (one prompt at a time), so both lists are kept in --work and a rerun
continues where it stopped. Last line: one JSON object.

    python3 bench/engine_fidelity.py --model smollm2-135m-instruct --per-task 10
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import harness  # noqa: E402,F401  (before torch: as `orca-eval` runs)


def load_jsonl(path: Path) -> dict[tuple[str, int], dict]:
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
            out[(row["task"], row["doc_id"])] = row
        except (ValueError, KeyError):
            continue  # a torn last line from a killed run: recomputed
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct", help="a named model, hf:PATH or gguf:PATH")
    ap.add_argument("--per-task", type=int, default=10)
    ap.add_argument("--new-tokens", type=int, default=512)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--work", default="/tmp/orca-engine-fidelity", help="folder keeping both output lists")
    ap.add_argument("--skip-reference", action="store_true", help="engine only (reuse a finished reference)")
    ap.add_argument("--partial", action="store_true",
                    help="compare on the prompts the reference has finished so far (the count is printed)")
    args = ap.parse_args()

    import torch

    from harness.models import make_backend
    from harness.data import load_task_data, resolve_tasks
    from harness.prompts import user_prompt
    from harness.runner import RunConfig, stop_sequences
    from harness.scoring import score_output
    from harness.suites import get_task
    from harness.compare.stats import mcnemar_exact
    from orca.paths import data_dir
    from orca.quiet import quiet_libraries

    quiet_libraries()
    backend = make_backend(args.model, RunConfig(model=args.model, dtype=args.dtype, device="cpu"))
    lm, tok = backend.lm, backend.tokenizer
    tasks = resolve_tasks("bbh")
    stop = stop_sequences(tasks)
    # example 0 of every task, then example 1, ...: a reference stopped part way still spans
    # every task (--partial compares what it has)
    docs_by_task = {t: load_task_data(t, str(data_dir())).docs[: args.per_task] for t in tasks}
    items = [(task.key, doc_id, docs[doc_id], backend.format_prompt(user_prompt(task, docs[doc_id]), ""))
             for doc_id in range(args.per_task) for task, docs in docs_by_task.items() if doc_id < len(docs)]
    work = Path(args.work) / f"{backend.fingerprint}-{args.dtype}-{args.new_tokens}"
    work.mkdir(parents=True, exist_ok=True)
    eos = lm.model.generation_config.eos_token_id

    def cut(text: str) -> str:
        for term in stop:
            text = text.split(term)[0]
        return text

    # 1. the reference, one prompt at a time, resumable
    ref_path = work / "reference.jsonl"
    ref = load_jsonl(ref_path)
    t_ref = 0.0
    if not args.skip_reference:
        with open(ref_path, "a") as f, torch.inference_mode():
            for task, doc_id, _, prompt in items:
                if (task, doc_id) in ref:
                    continue
                t0 = time.perf_counter()
                ids = lm.tok_batch_encode([prompt])[0].to(lm.device)
                out = lm.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.new_tokens,
                                        do_sample=False, stop_strings=stop, tokenizer=tok, eos_token_id=eos,
                                        pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else eos)
                new = out[0, ids.shape[1]:].tolist()
                ref[task, doc_id] = {"task": task, "doc_id": doc_id, "tokens": new,
                                     "output": cut(tok.decode(new, skip_special_tokens=True))}
                f.write(json.dumps(ref[task, doc_id]) + "\n")
                f.flush()
                t_ref += time.perf_counter() - t0
                print(f"reference {len(ref)}/{len(items)}", file=sys.stderr, flush=True)
    if len(ref) < len(items):
        if not args.partial:
            print(f"reference incomplete ({len(ref)}/{len(items)}): run again, or give --partial", file=sys.stderr)
            return 1
        items = [it for it in items if (it[0], it[1]) in ref]
    ref = [ref[task, doc_id] for task, doc_id, *_ in items]

    # 2. the engine, every prompt in one call
    engine = backend.engine()
    t0 = time.perf_counter()
    outs = engine.generate([p for *_, p in items], max_new_tokens=args.new_tokens, stop=stop)
    t_engine = time.perf_counter() - t0

    # 3. the equality table
    rows, diffs = [], []
    for i, ((task, doc_id, doc, prompt), out) in enumerate(zip(items, outs)):
        r, e = score_output(get_task(task), doc, ref[i]["output"]), score_output(get_task(task), doc, out)
        same = out == ref[i]["output"]
        rows.append((r["correct"], e["correct"]))
        if not same:
            ids = lm.tok_batch_encode([prompt])[0][0].tolist()
            eng_ids = lm.tok_batch_encode([prompt + out])[0][0].tolist()[len(ids):]
            k = next((j for j, (a, b) in enumerate(zip(ref[i]["tokens"], eng_ids)) if a != b),
                     min(len(ref[i]["tokens"]), len(eng_ids)))
            margin = None
            if k < len(ref[i]["tokens"]) and k < len(eng_ids):
                with torch.inference_mode():
                    x = torch.tensor([ids + ref[i]["tokens"][:k]], device=lm.device)
                    logits = lm.model(x).logits[0, -1].float()
                margin = round(float(logits[ref[i]["tokens"][k]] - logits[eng_ids[k]]), 5)
            diffs.append({"task": task, "doc_id": doc_id, "first_diff_token": k, "ref_logit_margin": margin,
                          "ref_extracted": r["extracted"], "engine_extracted": e["extracted"],
                          "ref_correct": r["correct"], "engine_correct": e["correct"]})
    n = len(items)
    same = n - len(diffs)
    lost = sum(1 for a, b in rows if a and not b)
    gained = sum(1 for a, b in rows if b and not a)
    print(f"{'task':<40} {'doc':>4} {'token':>6} {'margin':>8}  reference -> engine")
    for d in diffs:
        print(f"{d['task']:<40} {d['doc_id']:>4} {d['first_diff_token']:>6} {str(d['ref_logit_margin']):>8}  "
              f"{d['ref_extracted']!s:>8}{'*' if d['ref_correct'] else ' '} -> {d['engine_extracted']!s}"
              f"{'*' if d['engine_correct'] else ''}")
    acc_ref = 100 * sum(a for a, _ in rows) / n
    acc_eng = 100 * sum(b for _, b in rows) / n
    print(f"identical: {same}/{n} ({100 * same / n:.1f} %); accuracy reference {acc_ref:.1f} engine {acc_eng:.1f} "
          f"(lost {lost}, gained {gained}, McNemar p = {mcnemar_exact(lost, gained):.3f})")
    print(json.dumps({"model": args.model, "dtype": args.dtype, "prompts": n, "new_tokens": args.new_tokens,
                      "identical": same, "identical_pct": round(100 * same / n, 2), "differences": diffs,
                      "accuracy_reference": round(acc_ref, 2), "accuracy_engine": round(acc_eng, 2),
                      "lost": lost, "gained": gained, "mcnemar_p": round(mcnemar_exact(lost, gained), 4),
                      "engine_s": round(t_engine, 1), "engine": engine.stats.to_json(),
                      "reference_s_this_call": round(t_ref, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
