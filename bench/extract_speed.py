"""Answer-extraction time against output length: linear, and bounded on huge outputs.

Outputs of 1, 10 and 100 KB in four shapes that used to be slow (no sentence end: "No No
No ..."; a repetition loop; a long chain of thought with no conclusion; an answer cue over
and over), each read by every family's robust extractor. Per size: CPU microseconds per KB,
the best of a few repeats of each (shape, family) pair, averaged over the pairs. Then one
15 MB output through every family (the function alone, no process start-up). CPU time
(time.process_time) because the dev machine is shared; wall time is printed for the 15 MB
case too. Last line: one JSON object.

    .venv/bin/python bench/extract_speed.py
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.extract import FAMILIES, extract_answer, options_from_text  # noqa: E402
from harness.extract.commitment import ANALYSED_TAIL  # noqa: E402

OPTIONS = options_from_text(
    "Options:\n(A) The blue jay is the second from the left\n(B) The quail is the second from the left\n"
    "(C) The falcon is the second from the left")
SHAPES = {
    "no_sentence_end": "No ",
    "loop": "= not False and True and False ",
    "unfinished_reasoning": (
        "Let's track the books. Claire and Bob swap, so Bob has Lolita and Claire has Frankenstein (B). "
        "Then Bob and Alice swap: Bob has Ulysses, Alice has Lolita; the quail is to the left of the "
        "falcon, and 46 - 22 = 24 but we still need to check ( [ { } ] ) again\n"),
    "answer_cues": "the answer is ",
}
SIZES_KB = (1, 10, 100)
REPEATS = {1: 20, 10: 5, 100: 3}


def _text(unit: str, n_bytes: int, salt: int) -> str:
    # a distinct string per repeat, so no cache (harness/extract/commitment.py _loops) answers from an earlier call
    return (unit * (n_bytes // len(unit) + 2))[: n_bytes - salt]


def _cpu_seconds(text: str, family: str) -> float:
    options = OPTIONS if family == "mc" else None
    t0 = time.process_time()
    extract_answer(text, family, options)
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    # No options, but --help (and a mistyped flag) must not start the benchmark.
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                            epilog=__doc__.split("\n\n", 1)[1]).parse_args(argv)
    us_per_kb: dict[str, float] = {}
    worst_pair_ratio = 0.0
    per_pair: dict[tuple[str, str], dict[int, float]] = {}
    for kb in SIZES_KB:
        total = 0.0
        for shape, unit in SHAPES.items():
            for family in FAMILIES:
                best = min(_cpu_seconds(_text(unit, kb * 1024, r), family) for r in range(REPEATS[kb]))
                per_pair.setdefault((shape, family), {})[kb] = best / kb * 1e6
                total += best
        us_per_kb[str(kb)] = round(total / (len(SHAPES) * len(FAMILIES)) / kb * 1e6, 1)
        print(f"{kb:>4} KB: {us_per_kb[str(kb)]:8.1f} us per KB (mean over {len(SHAPES)} shapes x "
              f"{len(FAMILIES)} families)", flush=True)
    for (shape, family), row in per_pair.items():
        worst_pair_ratio = max(worst_pair_ratio, row[10] / max(row[1], 1e-3))
    huge_cpu, huge_wall = 0.0, 0.0
    huge = _text(SHAPES["no_sentence_end"], 15 * 1024 * 1024, 0)
    for family in FAMILIES:
        w0, c0 = time.perf_counter(), time.process_time()
        extract_answer(huge, family, OPTIONS if family == "mc" else None)
        huge_cpu = max(huge_cpu, time.process_time() - c0)
        huge_wall = max(huge_wall, time.perf_counter() - w0)
    print(f"15 MB output: at most {huge_cpu:.3f} s CPU ({huge_wall:.3f} s wall) per family; "
          f"analysed: first sentence + last {ANALYSED_TAIL} characters")
    print(json.dumps({
        "us_per_kb": us_per_kb,
        "ratio_100kb_to_1kb_per_kb": round(us_per_kb["100"] / us_per_kb["1"], 2),
        "ratio_10kb_to_1kb_per_kb": round(us_per_kb["10"] / us_per_kb["1"], 2),
        "worst_pair_ratio_10kb_to_1kb": round(worst_pair_ratio, 2),
        "s_15mb_max_over_families": round(huge_cpu, 3),
        "s_15mb_wall_max_over_families": round(huge_wall, 3),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
