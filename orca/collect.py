"""Teacher collection: answer every query of a queries file once, resumably.

Queries file (JSONL, one per line): ``{"id": ..., "query": ..., "system_message_id": 1..16}``
or ``{"id": ..., "query": ..., "system": "<text>"}`` (extra fields are ignored).

Output file (append-only JSONL, one line per finished query, in completion order):
``{"id", "status": "ok"|"failed", "system_message_id", "system", "query", "model",
"response", "usage", "finish_reason", "error", "attempts"}``.

Each line is appended and fsynced as soon as its query finishes, so `kill -9` loses at
most the queries in flight (asked again on restart) and at most one torn last line
(ignored by `orca.io.read_jsonl`). A corrupt *complete* line is an error naming
FILE:LINE, never a reason to drop the paid answers after it. A restart skips every id already in the output:
failed ones too, unless ``retry_failed`` -- then the output is first rewritten
atomically without its failed lines, and those queries are asked again. Either way the
file holds at most one line per id.
"""
from __future__ import annotations

import asyncio
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from orca.collect_config import CollectConfig
from orca.errors import UserError
from orca.io import OneWriter, append_jsonl, iter_jsonl_objects, read_jsonl, write_jsonl_atomic
from orca.progress import progress_display
from orca.redact import redact_url
from orca.system_messages import SYSTEM_MESSAGES
from orca.teacher import FatalTeacherError, TeacherClient, TeacherStats

# Table 4 of the paper: USD per 1K tokens (prompt, completion).
PRICES_PER_1K: dict[str, tuple[float, float]] = {
    "gpt-3.5-turbo": (0.002, 0.002),
    "gpt-4": (0.03, 0.06),
}


def price_per_1k(model: str) -> tuple[float, float] | None:
    """Price of `model` (dated snapshots such as gpt-4-0613 priced as their family), or None."""
    base = re.sub(r"-(\d{4}|\d{4}-\d{2}-\d{2})$", "", model)
    return PRICES_PER_1K.get(model) or PRICES_PER_1K.get(base)


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    price = price_per_1k(model)
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1000.0


@dataclass
class Query:
    id: str
    query: str
    system: str
    system_message_id: int | None


def load_queries(path: str | Path) -> list[Query]:
    """Read and check a queries file; UserError names file:line:field of the first problem."""
    queries, seen = [], {}
    for where, row in iter_jsonl_objects(path, "queries file"):
        qid = row.get("id")
        if not isinstance(qid, (str, int)) or isinstance(qid, bool) or str(qid) == "":
            raise UserError(f"{where}: field 'id' must be a non-empty string or integer")
        qid = str(qid)
        if qid in seen:
            raise UserError(f"{where}: field 'id' {qid!r} repeats line {seen[qid]}")
        seen[qid] = where.rsplit(":", 1)[1]
        text = row.get("query")
        if not isinstance(text, str) or not text.strip():
            raise UserError(f"{where}: field 'query' must be a non-empty string")
        sm_id, system = row.get("system_message_id"), row.get("system")
        if sm_id is not None:
            if isinstance(sm_id, bool) or not isinstance(sm_id, int) or sm_id not in SYSTEM_MESSAGES:
                raise UserError(f"{where}: field 'system_message_id' must be an integer "
                                f"1..{len(SYSTEM_MESSAGES)}, got {sm_id!r}")
            if system is not None and system != SYSTEM_MESSAGES[sm_id]:
                raise UserError(f"{where}: field 'system' differs from the text of "
                                f"system message {sm_id}; give one of them")
            system = SYSTEM_MESSAGES[sm_id]
        elif system is None:
            raise UserError(f"{where}: field 'system_message_id' or 'system' is required")
        elif not isinstance(system, str):
            raise UserError(f"{where}: field 'system' must be a string")
        queries.append(Query(qid, text, system, sm_id))
    if not queries:
        raise UserError(f"{path}: no queries")
    return queries


def load_finished(out_path: str | Path, model: str, retry_failed: bool) -> dict[str, dict]:
    """Rows already in the output (id -> row). With `retry_failed`, failed rows are removed
    from the file (atomic rewrite) and not returned."""
    out_path = Path(out_path)
    rows = _read_output(out_path)
    finished: dict[str, dict] = {}
    for i, row in rows:
        if row.get("model") != model:
            raise UserError(f"{out_path}:{i}: field 'model' is {row.get('model')!r} but this run asks "
                            f"{model!r}; write each teacher's answers to its own --out file")
        finished.setdefault(str(row["id"]), row)
    if retry_failed:
        keep = [r for _, r in rows if r.get("status") == "ok"]
        if len(keep) != len(rows):
            write_jsonl_atomic(out_path, keep)
        finished = {k: v for k, v in finished.items() if v.get("status") == "ok"}
    return finished


def _read_output(path: Path) -> list[tuple[int, dict]]:
    """(line, row) of a collection output; every line must be a whole output row, except a
    torn last line from a kill. Never writes."""
    found = read_jsonl(path, on_bad="error", what="collection output")
    for lineno, row in zip(found.row_lines, found.rows):
        if isinstance(row.get("id"), bool) or not isinstance(row.get("id"), (str, int)) \
                or row.get("status") not in ("ok", "failed") or not isinstance(row.get("model"), str):
            raise UserError(f"{path}:{lineno}: not a collection output line "
                            "(needs 'id', 'model' and 'status' ok|failed)")
    return list(zip(found.row_lines, found.rows))


def _check_same_texts(queries: list[Query], finished: dict[str, dict], queries_path, out_path: Path) -> None:
    """An id already answered for another query or system text is refused: skipping it
    would keep the answer to the old text under the new one. (Rows record the text they
    were asked with; rows without it cannot be checked.)"""
    changed = [q.id for q in queries if q.id in finished and (
        ("query" in finished[q.id] and finished[q.id]["query"] != q.query)
        or ("system" in finished[q.id] and finished[q.id]["system"] != q.system))]
    if changed:
        raise UserError(f"{queries_path}: {len(changed)} query id(s) already answered in {out_path} for another "
                        f"text (first: id {changed[0]!r}); give changed queries new ids, or remove their lines "
                        "from the output to ask them again")


@dataclass
class CollectSummary:
    total: int
    skipped: int                 # finished in an earlier run
    ok: int                      # ok lines in the output for this queries file
    failed: int
    new_ok: int = 0
    new_failed: int = 0
    elapsed_s: float = 0.0
    # The client's own counters (requests, 429s, retries, tokens, failure reasons) for this
    # run: the teacher's TeacherStats itself, not a copy of its fields.
    teacher: TeacherStats = field(default_factory=TeacherStats)
    cost_usd: float | None = None

    @property
    def failure_reasons(self) -> dict:
        return dict(self.teacher.reasons)

    @property
    def answered_per_min(self) -> float:
        return 60.0 * (self.new_ok + self.new_failed) / self.elapsed_s if self.elapsed_s else 0.0

    def fields(self) -> dict:
        """The summary as JSON (the pipeline's collect marker): these keys in this order, as
        written since before the teacher's counters were kept as one object."""
        t = self.teacher
        return {"total": self.total, "skipped": self.skipped, "ok": self.ok, "failed": self.failed,
                "new_ok": self.new_ok, "new_failed": self.new_failed, "elapsed_s": self.elapsed_s,
                "requests": t.requests, "rate_limited": t.rate_limited, "retries": t.retries,
                "prompt_tokens": t.prompt_tokens, "completion_tokens": t.completion_tokens,
                "cost_usd": self.cost_usd, "failure_reasons": self.failure_reasons}

    def as_dict(self) -> dict:
        """`data collect --json`: the fields plus the answer rate."""
        d = self.fields()
        d["answered_per_min"] = round(self.answered_per_min, 2)
        return d


def _output_row(q: Query, model: str, result) -> dict:
    return {
        "id": q.id, "status": "ok" if result.ok else "failed",
        "system_message_id": q.system_message_id, "system": q.system, "query": q.query,
        "model": model, "response": result.response, "usage": result.usage,
        "finish_reason": result.finish_reason, "error": result.error, "attempts": result.attempts,
    }


async def collect_async(queries_path: str | Path, out_path: str | Path, model: str, **settings) -> CollectSummary:
    """Answer every query not yet in `out_path`; see the module docstring for formats. `settings`:
    CollectConfig's fields (orca/collect_config.py), which give the defaults."""
    cfg = CollectConfig(queries=str(queries_path), out=str(out_path), model=model, **settings)
    cfg.check()
    out_path = Path(out_path)
    queries = load_queries(queries_path)
    finished = load_finished(out_path, model, cfg.retry_failed)
    _check_same_texts(queries, finished, queries_path, out_path)
    pending = [q for q in queries if q.id not in finished]
    done_rows = [finished[q.id] for q in queries if q.id in finished]
    summary = CollectSummary(total=len(queries), skipped=len(done_rows),
                             ok=sum(r["status"] == "ok" for r in done_rows),
                             failed=sum(r["status"] == "failed" for r in done_rows))
    if not pending:
        return summary

    teacher = TeacherClient(model, base_url=cfg.base_url, rpm=cfg.rpm, tpm=cfg.tpm, concurrency=cfg.concurrency,
                            max_retries=cfg.max_retries, timeout_s=cfg.timeout_s, temperature=cfg.temperature,
                            top_p=cfg.top_p, max_tokens=cfg.max_tokens, backoff_base_s=cfg.backoff_base_s,
                            backoff_max_s=cfg.backoff_max_s, seed=cfg.seed)
    todo: asyncio.Queue[Query] = asyncio.Queue()
    for q in pending:
        todo.put_nowait(q)
    display = _Progress(len(queries), len(done_rows), model, teacher, cfg.progress)
    start = time.monotonic()

    async def worker() -> None:
        while True:
            try:
                q = todo.get_nowait()
            except asyncio.QueueEmpty:
                return
            result = await teacher.ask(q.system, q.query)
            # fsync before counting it done: a kill after this line loses nothing.
            append_jsonl(out_path, [_output_row(q, model, result)])
            if result.ok:
                summary.new_ok += 1
            else:
                summary.new_failed += 1
            display.update(summary, time.monotonic() - start)

    # More workers than request slots, so queries backing off do not idle the slots.
    workers = [asyncio.create_task(worker()) for _ in range(min(len(pending), 2 * cfg.concurrency))]
    try:
        with display:
            await asyncio.gather(*workers)
    except FatalTeacherError as e:
        raise UserError(f"{redact_url(cfg.base_url) or 'OpenAI API'}: {e} (nothing recorded for unanswered "
                        "queries; fix and run again to resume)") from None
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await teacher.close()
    summary.elapsed_s = time.monotonic() - start
    summary.ok += summary.new_ok
    summary.failed += summary.new_failed
    summary.teacher = teacher.stats
    summary.cost_usd = cost_usd(model, teacher.stats.prompt_tokens, teacher.stats.completion_tokens)
    return summary


def collect(queries_path, out_path, model, **kwargs) -> CollectSummary:
    """Synchronous wrapper of `collect_async`, as the only writer of `out_path`."""
    out = Path(out_path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)  # the appender would make it anyway
        usable = not out.is_dir()
    except OSError:
        usable = False
    if not usable:  # not a place for a file: collect_async's own checks say so, in their words
        return asyncio.run(collect_async(queries_path, out_path, model, **kwargs))
    with OneWriter(out, "data collect"):
        return asyncio.run(collect_async(queries_path, out_path, model, **kwargs))


class _Progress:
    """The progress bar (orca/progress.py) on stderr: done/total, request rate, tokens,
    estimated cost, ETA. `enabled=None`: on a terminal only."""

    def __init__(self, total: int, done: int, model: str, teacher: TeacherClient, enabled: bool | None):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

        self.model, self.teacher = model, teacher
        self.progress = progress_display(
            TextColumn(f"[bold]{model}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeRemainingColumn(),
            console=Console(stderr=True), enabled=enabled)
        self.task = self.progress.add_task("collect", total=total, completed=done, stats="")

    def update(self, summary: CollectSummary, elapsed: float) -> None:
        if self.progress.disable:
            return
        s = self.teacher.stats
        rate = 60.0 * (summary.new_ok + summary.new_failed) / max(elapsed, 1e-9)
        cost = cost_usd(self.model, s.prompt_tokens, s.completion_tokens)
        cost_text = "cost n/a" if cost is None else f"${cost:,.2f}"
        self.progress.update(self.task, advance=1, stats=(
            f"{rate:,.0f}/min  {s.prompt_tokens + s.completion_tokens:,} tok  {cost_text}  "
            f"failed {summary.new_failed}  429s {s.rate_limited}"))

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


# ---- response lengths per teacher -----------------------------------------------------
def length_summary(paths: list[str | Path]) -> dict[str, dict]:
    """Per teacher model: answers, mean/median chars and words, mean completion tokens, and
    the ratio of mean words to the reference teacher (gpt-3.5-turbo if present, else the
    shortest). The paper reports GPT-4's answers ~1.5x longer than ChatGPT's."""
    by_model: dict[str, dict[str, dict]] = {}
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: is a directory, not a collection output" if path.is_dir()
                            else f"{path}: collection output not found")
        for _, row in _read_output(path):
            if row["status"] == "ok" and isinstance(row.get("response"), str):
                by_model.setdefault(row["model"], {})[str(row.get("id"))] = row
    out: dict[str, dict] = {}
    for model, rows in sorted(by_model.items()):
        chars = [len(r["response"]) for r in rows.values()]
        words = [len(r["response"].split()) for r in rows.values()]
        tokens = [r["usage"]["completion_tokens"] for r in rows.values()
                  if isinstance(r.get("usage"), dict) and isinstance(r["usage"].get("completion_tokens"), int)]
        out[model] = {
            "answers": len(rows),
            "mean_chars": round(statistics.fmean(chars), 1),
            "median_chars": statistics.median(chars),
            "mean_words": round(statistics.fmean(words), 2),
            "median_words": statistics.median(words),
            "mean_completion_tokens": round(statistics.fmean(tokens), 2) if tokens else None,
        }
    if out:
        ref = next((m for m in out if "3.5" in m), None) or min(out, key=lambda m: out[m]["mean_words"])
        for model, d in out.items():
            d["ratio_to_reference"] = round(d["mean_words"] / out[ref]["mean_words"], 3)
            d["reference"] = ref
    return out


def print_length_summary(summary: dict[str, dict], file=None) -> None:
    from rich.console import Console
    from rich.table import Table

    refs = sorted({d["reference"] for d in summary.values()})
    table = Table(title="Teacher response lengths" + (f" (x ref: mean words / {refs[0]}'s)" if len(refs) == 1 else ""))
    # Two-line headers and bare ratios keep the table within 80 columns; a long model name
    # folds onto a second line rather than being cut.
    table.add_column("teacher", overflow="fold")
    for col in ("answers", "mean\nwords", "median\nwords", "mean\nchars", "mean\ntokens", "x ref"):
        table.add_column(col, justify="right", no_wrap=True)
    for model, d in summary.items():
        ratio = f"{d['ratio_to_reference']:.2f}" + ("" if len(refs) == 1 else f" ({d['reference']})")
        table.add_row(model, str(d["answers"]), f"{d['mean_words']:.1f}", str(d["median_words"]),
                      f"{d['mean_chars']:.0f}", "-" if d["mean_completion_tokens"] is None
                      else f"{d['mean_completion_tokens']:.1f}", ratio)
    # The console's width (80 columns in a pipe or log): the headers wrap at spaces, no
    # figure is cut. It was a fixed 120, which a pipe or an 80-column terminal got too.
    Console(file=file or sys.stdout).print(table)
