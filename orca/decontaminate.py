"""Training data checked against benchmark documents by word n-gram overlap.

The rule is GPT-3's (Brown et al. 2020, appendix C) as lm-eval implements it
(`lm_eval/decontamination/janitor.py`): normalise both sides (lower case, punctuation
and whitespace collapsed), split into words, and call a training line contaminated when
it shares any word n-gram (n = 13 by default) with a benchmark document. A benchmark
document shorter than n words counts as one n-gram of its full length (docs/data.md says
why). A contaminated line is removed whole.

This module knows nothing about AGIEval or BBH: it takes benchmark documents
(`BenchmarkDocument(task, doc_id, text)`) from its caller (`harness/benchmark_text.py`
reads them from the benchmark data) and streams training JSONL files line by line, so
memory is bounded by the benchmark side: the index, never the training data.

Here: training lines read, checked and written (clean copies, removed.jsonl, the report).
The benchmark side -- normalisation, the n-gram index and its matching -- is
orca/decontaminate_index.py; its names stay importable from here.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from orca.decontaminate_index import (BenchmarkDocument, BenchmarkIndex, DecontaminationInputError, Match,
                                      normalize_words)
from orca.io import AtomicWriter, sha256_file, write_json_atomic

# The public names of both decontamination modules, importable from here as before the split.
__all__ = ["BenchmarkDocument", "BenchmarkIndex", "DecontaminationInputError", "Match", "normalize_words",
           "REPORT_FILE", "REMOVED_FILE", "MAX_REFS_PER_TASK", "QUERY_FIELDS", "ANSWER_FIELDS", "CHAT_FIELDS",
           "line_text", "iter_training_lines", "FileResult", "TaskOverlap", "clean_name", "decontaminate_files",
           "print_report", "decontamination_record"]

REPORT_FILE = "decontamination.json"
REMOVED_FILE = "removed.jsonl"
MAX_REFS_PER_TASK = 1000   # report lists at most this many line references per task; removed.jsonl has all

# Fields of a training line that are checked. Collector output: query + response; FLAN
# samples: inputs/targets (raw) or query/target (sampled); other JSONL: the usual names.
# `system` is not checked: it is one of the paper's 16 fixed system messages.
QUERY_FIELDS = ("query", "user", "inputs", "input", "question", "prompt", "instruction", "passage", "text")
ANSWER_FIELDS = ("response", "target", "targets", "output", "completion", "answer")
CHAT_FIELDS = ("messages", "conversations")


# ----------------------------------------------------------------------------- training lines

def line_text(row: dict, where: str) -> str | None:
    """The text of a training line that is checked; None for a failed collector line with none."""
    parts, has_query = [], False
    for key in QUERY_FIELDS:
        value = row.get(key)
        if isinstance(value, str):
            parts.append(value)
            has_query = True
    for key in ANSWER_FIELDS:
        value = row.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):  # FLAN targets may be a list of strings
            parts += [v for v in value if isinstance(v, str)]
    for key in CHAT_FIELDS:
        turns = row.get(key)
        if isinstance(turns, list):
            for turn in turns:
                if isinstance(turn, dict):
                    text = turn.get("content", turn.get("value"))
                    if isinstance(text, str):
                        parts.append(text)
                        has_query = True
    if not has_query:
        if row.get("status") == "failed":
            return None  # nothing asked, nothing answered, never trained on
        raise DecontaminationInputError(
            f"{where}: no query text on the line (one of the fields {', '.join(QUERY_FIELDS)} or "
            f"{'/'.join(CHAT_FIELDS)}); a line is checked with its query, so it must carry it")
    return "\n".join(parts)


def iter_training_lines(path: str | Path) -> Iterator[tuple[int, bytes, dict]]:
    """(line number, raw bytes, object) for each non-blank line; DecontaminationInputError
    naming FILE:LINE for a missing file, bad UTF-8, malformed JSON or a non-object.

    Not orca/io.py's `iter_jsonl_objects`, on purpose: the clean copy is written from the raw
    bytes yielded here, byte for byte (io's reader yields only the parsed object); lines are
    parsed as bytes by `json.loads` (a line with a UTF-8 BOM is read, where io's reader
    decodes UTF-8 and refuses it), and the errors are DecontaminationInputError with their
    own wording ("training file not found", "not UTF-8 text" without a byte offset, "cannot
    read"), which `data decontaminate` and the pipeline print as they are. Atomic writing, in
    contrast, is io's (AtomicWriter, write_json_atomic)."""
    path = Path(path)
    if not path.is_file():
        raise DecontaminationInputError(f"{path}: training file not found" if not path.exists()
                                        else f"{path}: not a file")
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw)
                except UnicodeDecodeError:
                    raise DecontaminationInputError(f"{path}:{lineno}: not UTF-8 text") from None
                except json.JSONDecodeError as e:
                    raise DecontaminationInputError(f"{path}:{lineno}: malformed JSON ({e.msg})") from None
                if not isinstance(row, dict):
                    raise DecontaminationInputError(f"{path}:{lineno}: expected a JSON object")
                yield lineno, raw, row
    except (OSError, EOFError) as e:  # unreadable, or a corrupt .gz
        raise DecontaminationInputError(f"{path}: cannot read ({e})".splitlines()[0]) from None


# ----------------------------------------------------------------------------- files -> clean files + report

@dataclass
class FileResult:
    file: str
    sha256: str = ""
    lines: int = 0
    removed: int = 0
    clean_file: str | None = None
    clean_sha256: str | None = None

    @property
    def share_removed(self) -> float:
        return self.removed / self.lines if self.lines else 0.0

    def as_dict(self) -> dict:
        return {**self.__dict__, "share_removed": round(self.share_removed, 6)}


@dataclass
class TaskOverlap:
    lines: int = 0
    docs: set = field(default_factory=set)
    refs: list = field(default_factory=list)   # "file:line", at most MAX_REFS_PER_TASK


def _line(data: bytes) -> bytes:
    """A training line as written out: with its line break (a file's last line may lack one)."""
    return data if data.endswith(b"\n") else data + b"\n"


def clean_name(path: str | Path) -> str:
    path = Path(path)
    return path.name[:-3] if path.name.endswith(".gz") else path.name


def decontaminate_files(train_files: list[str | Path], index: BenchmarkIndex, out_dir: str | Path | None,
                        *, benchmarks: dict | None = None) -> dict:
    """Stream every training file through `index`. With `out_dir`, write there a clean copy
    of each file (same name, kept lines byte for byte), `removed.jsonl` (each removed line
    with its benchmark task, doc_id and shared n-gram) and `decontamination.json` (the
    report, also the record `orca-eval train` looks for); all atomically, report last.
    With `out_dir=None` nothing is written. Returns the report."""
    paths = [Path(p) for p in train_files]
    for p in paths:
        if not p.is_file():
            raise DecontaminationInputError(f"{p}: training file not found" if not p.exists() else f"{p}: not a file")
    if out_dir is not None:
        out_dir = Path(out_dir)
        if out_dir.exists() and not out_dir.is_dir():
            raise DecontaminationInputError(f"{out_dir}: --out-dir exists and is not a directory")
        names = [clean_name(p) for p in paths]
        for name in set(names):
            if names.count(name) > 1:
                raise DecontaminationInputError(f"two training files are named {name!r}; their clean copies "
                                                f"would collide in {out_dir} (rename one)")
            if name in (REPORT_FILE, REMOVED_FILE):
                raise DecontaminationInputError(f"a training file may not be named {name!r} (the report's name)")
        if any((out_dir / n).resolve() == p.resolve() for n, p in zip(names, paths)):
            raise DecontaminationInputError(f"{out_dir}: --out-dir would overwrite a training file; choose another")
    start = time.monotonic()
    results: list[FileResult] = []
    overlaps: dict[str, TaskOverlap] = {}
    outputs: list[AtomicWriter] = []
    removed_out = AtomicWriter(out_dir / REMOVED_FILE) if out_dir is not None else None
    try:
        for path in paths:
            res = FileResult(str(path))
            file_hash = hashlib.sha256()
            clean = AtomicWriter(out_dir / clean_name(path)) if out_dir is not None else None
            if clean:
                outputs.append(clean)
            for lineno, raw, row in iter_training_lines(path):
                file_hash.update(raw)
                res.lines += 1
                where = f"{path}:{lineno}"
                text = line_text(row, where)
                found = index.matches(normalize_words(text)) if text is not None else []
                if not found:
                    if clean:
                        clean.write(_line(raw))
                    continue
                res.removed += 1
                # Per task, the document with the most shared n-grams: a task's fixed
                # instruction is in all its documents (stored under the first one), the
                # copied item's own words only in that item.
                hits = Counter((m.task, m.doc_id) for m in found)
                per_task: dict[str, Match] = {}
                for m in found:
                    best = per_task.get(m.task)
                    if best is None or hits[m.task, m.doc_id] > hits[best.task, best.doc_id]:
                        per_task[m.task] = m
                for task, m in per_task.items():
                    o = overlaps.setdefault(task, TaskOverlap())
                    o.lines += 1
                    o.docs.add(m.doc_id)
                    if len(o.refs) < MAX_REFS_PER_TASK:
                        o.refs.append(f"{path}:{lineno}")
                if removed_out:
                    first = max(per_task.values(), key=lambda m: hits[m.task, m.doc_id])
                    removed_out.write(json.dumps({
                        "file": str(path), "line": lineno, "benchmark_task": first.task, "doc_id": first.doc_id,
                        "ngram": first.ngram,
                        "overlaps": [{"benchmark_task": m.task, "doc_id": m.doc_id, "ngram": m.ngram}
                                     for m in per_task.values()],
                        "row": row}, ensure_ascii=False).encode("utf-8") + b"\n")
            res.sha256 = file_hash.hexdigest()
            results.append(res)
        report = _report(index, results, overlaps, benchmarks, time.monotonic() - start, out_dir)
        if out_dir is not None:
            for res, out in zip(results, outputs):
                res.clean_file = str(out.dest)
                res.clean_sha256 = out.commit()
            removed_out.commit()
            report["files"] = [r.as_dict() for r in results]
            # Written last: it is the record that the clean copies are complete.
            write_json_atomic(out_dir / REPORT_FILE, report)
        return report
    finally:
        for out in outputs + ([removed_out] if removed_out else []):
            out.discard()


def _report(index: BenchmarkIndex, results: list[FileResult], overlaps: dict[str, TaskOverlap],
            benchmarks: dict | None, elapsed: float, out_dir: Path | None) -> dict:
    lines = sum(r.lines for r in results)
    removed = sum(r.removed for r in results)
    tasks = {}
    for task in index.tasks:
        o = overlaps.get(task, TaskOverlap())
        tasks[task] = {"benchmark_docs": index.docs_per_task[task], "training_lines": o.lines,
                       "docs_hit": sorted(o.docs, key=str), "lines": o.refs,
                       "lines_truncated": o.lines > len(o.refs)}
    return {
        "rule": {"n": index.n, "normalisation": "lower case; Unicode punctuation and symbols -> space; "
                                                "split on whitespace",
                 "short_documents": f"a benchmark document of fewer than {index.n} words counts as one "
                                    "n-gram of its full length"},
        "benchmarks": {**(benchmarks or {}), "index": index.stats()},
        "contaminated": removed > 0,
        "lines": lines,
        "removed": removed,
        "share_removed": round(removed / lines, 6) if lines else 0.0,
        "elapsed_s": round(elapsed, 3),
        "out_dir": str(out_dir) if out_dir is not None else None,
        "removed_file": str(out_dir / REMOVED_FILE) if out_dir is not None else None,
        "files": [r.as_dict() for r in results],
        "tasks": tasks,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def print_report(report: dict, file=None) -> None:
    """Rich tables: benchmark tasks that overlap the training data, then the share removed per file."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file or sys.stdout)
    hit = {t: d for t, d in report["tasks"].items() if d["training_lines"]}
    n = report["rule"]["n"]
    if hit:
        table = Table(title=f"Benchmark tasks overlapping the training data ({n}-grams)")
        for col in ("benchmark task", "training lines", "benchmark docs hit", "first lines"):
            table.add_column(col, justify="left" if col in ("benchmark task", "first lines") else "right",
                             overflow="fold")
        for task, d in hit.items():
            table.add_row(task, str(d["training_lines"]), f"{len(d['docs_hit'])} of {d['benchmark_docs']}",
                          ", ".join(d["lines"][:3]) + (" ..." if d["training_lines"] > 3 else ""))
        console.print(table)
    else:
        console.print(f"No training line shares a {n}-gram with any of the "
                      f"{len(report['tasks'])} benchmark tasks.")
    table = Table(title="Training files")
    for col in ("file", "lines", "removed", "share removed", "clean copy"):
        table.add_column(col, justify="left" if col in ("file", "clean copy") else "right", overflow="fold")
    for f in report["files"]:
        table.add_row(f["file"], str(f["lines"]), str(f["removed"]), f"{100 * f['share_removed']:.2f}%",
                      f["clean_file"] or "-")
    console.print(table)


# ----------------------------------------------------------------------------- the record `train` looks for

def decontamination_record(path: str | Path) -> dict | None:
    """The report that made `path` (a clean copy with the same bytes), else None."""
    path = Path(path)
    report_path = path.parent / REPORT_FILE
    if not path.is_file() or not report_path.is_file():
        return None
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        entries = [f for f in report["files"] if f.get("clean_file") and Path(f["clean_file"]).name == path.name]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not entries:
        return None
    digest = sha256_file(path)
    return report if any(e.get("clean_sha256") == digest for e in entries) else None
