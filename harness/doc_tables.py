"""Tables of figures in the Markdown docs, generated from the committed run files.

A number copied by hand into a README goes stale when the run it came from is refreshed
(results/baselines/README-smollm2.md went on quoting a baseline two refreshes old). Each
table here sits between `<!-- NAME: begin -->` and `<!-- NAME: end -->` markers in its file;
`python3 -m harness.doc_tables` rewrites them from the files, `--check` exits 1 when one is
stale, and tests/test_doc_tables.py fails on a stale one. The gate's `--refresh-baseline`
rewrites its own table.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.display import pct
from harness.markdown import markdown_table
from harness.paths import BASELINES_DIR, PUBLISHED_DIR, RESULTS_DIR
from harness.results import load_run
from orca.io import write_text_atomic

PROJECT = RESULTS_DIR.parent


def _load(run_dir: Path) -> tuple[dict, dict]:
    run = load_run(run_dir, with_samples=False)
    return run.meta, run.summary


def _published_runs(root: Path):
    """(run dir, run.json, summary.json) of each run under `root`, by name."""
    for run_dir in sorted(p.parent for p in root.glob("*/summary.json")):
        yield (run_dir, *_load(run_dir))


def _suite_tasks(body: dict, suite: str) -> list[dict]:
    """The per-task figures of one suite in a variant's summary."""
    return [f for name, f in body["tasks"].items() if name.startswith(suite + "/")]


def published_table(root: str | Path = PUBLISHED_DIR / "smollm2-135m-instruct") -> str:
    """README's "Results on a real model": one row per published run, variant and suite."""
    root = Path(root)
    rows = []
    for run_dir, meta, summary in _published_runs(root):
        for variant, body in summary["variants"].items():
            for suite, figures in body["suites"].items():
                tasks = _suite_tasks(body, suite)
                n = sum(t["n"] for t in tasks)
                unparsed = 100 * sum(t["unparsed"] for t in tasks) / n if n else 0.0
                rows.append([meta['mode'], suite, variant, str(meta.get('limit') or ''), str(len(tasks)), str(n),
                             pct(figures['accuracy']), pct(figures['accuracy_official']), f"{pct(unparsed, 0)} %",
                             f"`{run_dir.name}`"])
    return "\n".join(markdown_table(["mode", "suite", "system message", "limit", "tasks", "n", "accuracy (robust)",
                                     "official", "unparsed", "run"], ["---"] * 3 + ["--:"] * 6 + ["---"], rows))


def _full_runs(root: Path, mode: str, variant: str) -> dict[str, tuple[Path, dict, dict]]:
    """suite -> (run dir, run.json, the variant's summary) of the published runs in `mode` that
    evaluated every example of the suite (no --limit) with system-message variant `variant`."""
    out = {}
    for run_dir, meta, summary in _published_runs(root):
        if meta["mode"] != mode or meta.get("limit") or variant not in summary["variants"]:
            continue
        body = summary["variants"][variant]
        for suite in body["suites"]:
            tasks = _suite_tasks(body, suite)
            if tasks and not any(t.get("partial") for t in tasks):
                out[suite] = (run_dir, meta, body)
    return out


def paper_comparison_table(root: str | Path = PUBLISHED_DIR / "smollm2-135m-instruct",
                           label: str = "SmolLM2-135M-Instruct") -> str:
    """README's full row beside the paper's systems: macro averages over the tasks of the
    paper's Tables 8 (AGIEval) and 11 (BBH, 23 tasks), from the cells of the reference file,
    and the published full generate-mode sm1 run over the same tasks. A suite without a full
    run shows a dash, never a partial average."""
    from harness.reference import DEFAULT_REFERENCE, load_reference
    from harness.report.model import suite_title

    ref = load_reference(DEFAULT_REFERENCE)
    suites = [s for s in ("agieval", "bbh") if s in ref.suites]
    runs = _full_runs(Path(root), "generate", "sm1")
    head = [f"{suite_title(s)} ({len(ref.suites[s].tasks)} tasks)" for s in suites]
    rows = []
    names = []
    for s in suites:
        names += [m.name for m in ref.suites[s].models if m.kind == "model" and m.name not in names]
    for name in names:
        cells = []
        for s in suites:
            m = ref.suites[s].model(name)
            cells.append(pct(m.average()) if m is not None and m.average() is not None else "-")
        rows.append([name, *cells, "Orca paper (zero-shot)"])
    used = []
    for field, extractor in (("accuracy", "robust"), ("accuracy_official", "official")):
        cells = []
        for s in suites:
            keys = list(ref.suites[s].tasks)
            if s not in runs or any(k not in runs[s][2]["tasks"] for k in keys):
                cells.append("-")
                continue
            run_dir, _, body = runs[s]
            cells.append(pct(sum(body["tasks"][k][field] for k in keys) / len(keys)))
            if run_dir.name not in used:
                used.append(run_dir.name)
        source = ", ".join(f"`{u}`" for u in used) or "no full run published yet"
        rows.append([f"**{label}** (generate, sm1, {extractor} extractor)", *cells, source])
    return "\n".join(markdown_table(["system", *head, "source"], ["---"] + ["--:"] * len(suites) + ["---"], rows))


def gate_baseline_table(run_dir: str | Path = BASELINES_DIR / "smollm2-135m-instruct") -> str:
    """results/baselines/README-smollm2.md: the gate baseline's figures per task."""
    run_dir = Path(run_dir)
    _, summary = _load(run_dir)
    rows = [[task, str(f['n']), pct(f['accuracy']), f"{pct(f['unparsed_rate'], 0)} %"]
            for body in summary["variants"].values() for task, f in body["tasks"].items()]
    return "\n".join(markdown_table(["task", "n", "accuracy (robust)", "unparsed"], ["---"] + ["--:"] * 3, rows))


# (file, marker name, generator)
TABLES = [
    (PROJECT / "README.md", "results table", published_table),
    (PROJECT / "README.md", "paper comparison", paper_comparison_table),
    (BASELINES_DIR / "README-smollm2.md", "baseline table", gate_baseline_table),
]


def _span(text: str, name: str, path: Path) -> tuple[int, int]:
    begin, end = f"<!-- {name}: begin -->\n", f"<!-- {name}: end -->"
    if begin not in text or end not in text:
        raise ValueError(f"{path}: markers {begin.strip()} / {end} not found")
    start = text.index(begin) + len(begin)
    return start, text.index(end, start)


def current(path: str | Path, name: str) -> str:
    text = Path(path).read_text(encoding="utf-8")
    start, stop = _span(text, name, path)
    return text[start:stop].rstrip("\n")


def update(only: str | Path | None = None) -> list[Path]:
    """Rewrite the tables (of `only`, or all); returns the files that changed."""
    changed = []
    for path, name, make in TABLES:
        if only is not None and Path(only).resolve() != path.resolve():
            continue
        text = path.read_text(encoding="utf-8")
        start, stop = _span(text, name, path)
        new = text[:start] + make() + "\n" + text[stop:]
        if new != text:
            write_text_atomic(path, new)
            changed.append(path)
    return changed


def stale() -> list[str]:
    return [f"{path.relative_to(PROJECT)}: {name}" for path, name, make in TABLES if current(path, name) != make()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m harness.doc_tables", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a table differs from the files, change nothing")
    args = ap.parse_args(argv)
    if args.check:
        for s in stale():
            print(f"stale: {s} (run: .venv/bin/python -m harness.doc_tables)")
        return 1 if stale() else 0
    for path in update():
        print(f"updated {path.relative_to(PROJECT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
