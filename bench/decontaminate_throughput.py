"""Decontamination throughput on one core, and peak memory on a 1M-line training file.

Index: every 13-gram of the real AGIEval (8 tasks) and BBH (27 tasks) documents. Training
data: generated FLAN-style teacher-collector lines of ~300 words (a FLAN instruction, a
query of ~100 words and a response of ~200 words drawn by the word frequencies of the
benchmark text itself, with punctuation and capitals), 1% of them carrying a real
benchmark item so the exact path runs too.

  * throughput: `orca.decontaminate.decontaminate_files` end to end (read, JSON parse,
    normalise, check, write the clean copy and removed.jsonl) on --lines lines, pinned to
    one core, timed in CPU seconds (the machine is shared; wall time is printed too).
    Goal >= 5,000 lines/s. Baseline in the same run: lm-eval's own Janitor
    (`lm_eval.decontamination.janitor`, its Python path: `register_contaminant` on every
    benchmark document, `clean` per line) on --baseline-lines of the same lines.
  * memory (--memory-lines, default 1,000,000; 0 skips): a fresh process runs the same
    function on a generated file of that many lines in a temporary folder (deleted after)
    and reports its peak RSS (ru_maxrss). Goal < 1 GB.

    nice -n 10 .venv/bin/python bench/decontaminate_throughput.py [--lines 20000] [--memory-lines 1000000]

Last line: one JSON object of the figures.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

INSTRUCTIONS = ["Answer the following question.", "Read the text and answer the question below.",
                "Generate a detailed answer to the question:", "Summarize the following article.",
                "Translate the sentence and explain your choice.", "Choose the best option:"]


def line_factory(docs, seed: int = 0):
    """Yields collector-output lines (dicts) of ~300 words; every 100th holds a benchmark item."""
    from orca.decontaminate import normalize_words

    freq = Counter(w for d in docs[::5] for w in normalize_words(d.text))
    words = list(freq)
    cum = list(itertools.accumulate(freq[w] for w in words))
    rng = random.Random(seed)

    def sentence(k):
        ws = rng.choices(words, cum_weights=cum, k=k)
        ws[0] = ws[0].capitalize()
        return " ".join(ws) + rng.choice([".", "?", ".", "!"])

    # Lines are made of sentences from a pool of 50,000 (drawn word by word by frequency):
    # drawing every word afresh would make generating the 1M-line file take longer than
    # checking it.
    pool = [(k, sentence(k)) for k in (rng.randint(8, 20) for _ in range(50_000))]

    def text(n_words):
        out, n = [], 0
        while n < n_words:
            k, s = rng.choice(pool)
            out.append(s)
            n += k
        return " ".join(out)

    for i in itertools.count():
        query = rng.choice(INSTRUCTIONS) + " " + text(100)
        if i % 100 == 50:
            query += "\n" + rng.choice(docs).text
        yield {"id": f"b{i}", "status": "ok", "system_message_id": 1,
               "system": "You are an AI assistant. Provide a detailed answer.", "query": query,
               "model": "gpt-4", "response": text(200), "finish_reason": "stop"}


def write_lines(path: Path, docs, n: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in itertools.islice(line_factory(docs), n):
            f.write(json.dumps(row) + "\n")


def pin_one_core() -> int:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def memory_child(train: str, out_dir: str, data_dir: str) -> None:
    """Run in a fresh process: index + stream one file; print figures as JSON."""
    from harness.decontaminate import benchmark_index
    from orca.decontaminate import decontaminate_files

    pin_one_core()
    t = time.process_time()
    index, prov = benchmark_index("agieval,bbh", data_dir, 13)
    rss_index = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = decontaminate_files([train], index, out_dir, benchmarks=prov)
    print(json.dumps({"lines": report["lines"], "removed": report["removed"], "seconds": time.process_time() - t,
                      "rss_after_index_mb": rss_index / 1024,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=20_000)
    ap.add_argument("--baseline-lines", type=int, default=1_000)
    ap.add_argument("--memory-lines", type=int, default=1_000_000)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--tmp", default=None, help="folder for the generated files (default: the system's)")
    ap.add_argument("--memory-child", nargs=3, metavar=("TRAIN", "OUT", "DATA"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return 0

    from harness.benchmark_text import benchmark_documents
    from orca.decontaminate import BenchmarkIndex, decontaminate_files, line_text
    from orca.paths import data_dir

    data = str(data_dir(args.data_dir))
    cpu = pin_one_core()
    docs, prov = benchmark_documents("agieval,bbh", data)
    t = time.process_time()
    index = BenchmarkIndex(docs, 13)
    build_s = time.process_time() - t
    tmp = Path(tempfile.mkdtemp(prefix="decontam-bench-", dir=args.tmp))
    try:
        train = tmp / "train.jsonl"
        write_lines(train, docs, args.lines)
        words = sum(len(line_text(json.loads(x), "").split()) for x in itertools.islice(open(train), 500)) / 500
        # CPU time of this (pinned, single-threaded) process: the machine is shared, so wall
        # time measures the neighbours too. Wall time is printed beside it.
        t, w = time.process_time(), time.perf_counter()
        report = decontaminate_files([train], index, tmp / "out", benchmarks=prov)
        ours_s, ours_wall = time.process_time() - t, time.perf_counter() - w
        ours = args.lines / ours_s

        # lm-eval's Janitor, Python path (its C++ helper is not shipped in the wheel).
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            from lm_eval.decontamination.janitor import Janitor
            janitor = Janitor(ngram_n=13)
            t = time.process_time()
            for d in docs:
                janitor.register_contaminant_python(d.text)
            janitor_build_s = time.process_time() - t
            rows = [json.loads(x) for x in itertools.islice(open(train), args.baseline_lines)]
            t = time.process_time()
            dirty = sum(1 for r in rows if janitor.clean_python(line_text(r, "")) != [line_text(r, "")])
            base_s = time.process_time() - t
        base = len(rows) / base_s
        ours_dirty_in_sample = sum(1 for i in range(len(rows)) if i % 100 == 50)
        print(f"one core (cpu {cpu}); index: {len(index.ngrams):,} 13-grams of {len(docs):,} benchmark documents "
              f"built in {build_s:.1f}s (lm-eval Janitor: {janitor_build_s:.1f}s)")
        print(f"orca decontaminate_files: {args.lines:,} lines of ~{words:.0f} words in {ours_s:.1f}s = "
              f"{ours:,.0f} lines/s of CPU time (wall {ours_wall:.1f}s); removed {report['removed']} "
              f"(planted {args.lines // 100 + (args.lines % 100 > 50)})")
        print(f"lm-eval Janitor.clean_python (baseline): {len(rows):,} lines in {base_s:.1f}s = {base:,.0f} lines/s; "
              f"flagged {dirty} (planted {ours_dirty_in_sample})")

        figures = {"lines": args.lines, "words_per_line": round(words), "lines_per_s": round(ours),
                   "goal_lines_per_s": 5000, "baseline_lm_eval_janitor_lines_per_s": round(base, 1),
                   "ratio_vs_baseline": round(ours / base, 1), "index_ngrams": len(index.ngrams),
                   "index_build_cpu_s": round(build_s, 2), "removed": report["removed"], "wall_s": round(ours_wall, 1)}

        if args.memory_lines:
            big = tmp / "big.jsonl"
            t = time.perf_counter()
            write_lines(big, docs, args.memory_lines)
            gen_s = time.perf_counter() - t
            size = big.stat().st_size
            proc = subprocess.run([sys.executable, __file__, "--memory-child", str(big), str(tmp / "bigout"), data],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
            child = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"memory: {args.memory_lines:,} lines ({size / 1e9:.2f} GB, generated in {gen_s:.0f}s) in "
                  f"{child['seconds']:.0f} CPU s ({child['lines'] / child['seconds']:,.0f} lines/s incl. the index); "
                  f"peak RSS {child['peak_rss_mb']:.0f} MB (after the index: {child['rss_after_index_mb']:.0f} MB)")
            figures.update({"memory_lines": child["lines"], "memory_file_gb": round(size / 1e9, 2),
                            "peak_rss_mb": round(child["peak_rss_mb"]),
                            "rss_after_index_mb": round(child["rss_after_index_mb"]), "goal_peak_rss_mb": 1024,
                            "memory_run_lines_per_s": round(child["lines"] / child["seconds"])})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
