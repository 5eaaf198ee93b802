"""`orca-eval run`'s model calls: everything the output cache lacks, sent to the backend in one
call per request type, each result cached as it comes (so a killed run resumes), with the
run's progress shown; and a cache row of the wrong kind dropped before it can be scored."""
from __future__ import annotations

import re
import sys
import time

from harness.cache import OutputCache
from harness.run_config import RunConfig
from harness.run_requests import Request, request_seed
from orca.errors import UserError
from orca.progress import progress_display


def _progress(enabled: bool):
    """A rich bar on a terminal; in a log (not a TTY), a plain line at the start, at most one
    per 30 s, and at the end (orca/progress.py). Both count the whole run: answers from the
    cache included, and under torchrun every rank's (see RunProgress)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return progress_display(TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]:>8} req/s"), TimeElapsedColumn(), TextColumn("ETA"),
                            TimeRemainingColumn(), enabled=enabled, plain_unit=("requests", "req/s"),
                            before="from the cache")


class RunProgress:
    """done/total of the whole run: distinct requests (two examples with the same prompt
    are one request), those the cache held at the start counted as done. Under torchrun
    rank 0 alone shows it; each rank computes its own slice, so rank 0 also counts the keys
    the other ranks append to the shared cache file (read from where it ended at the start,
    at most once a second). Before, a resumed run showed only the missing count ("4/48"), a
    fully cached one "0/0", and rank 0 of 2 "4/4" of 8 requests."""

    _KEY = re.compile(rb'^\{"k": "([0-9a-f]{64})"', re.M)

    def __init__(self, requests: list[Request], cache: OutputCache, world_size: int):
        keys = {k for r in requests for k in r.keys}
        self.total = len(keys)
        self.cached = sum(1 for k in keys if k in cache)
        self.missing = {k for k in keys if k not in cache}
        self.done: set[str] = set()
        self.path = cache.path if world_size > 1 else None
        self.offset = self.path.stat().st_size if self.path and self.path.exists() else 0
        self.polled = 0.0

    @property
    def completed(self) -> int:
        return self.cached + len(self.done)

    def add(self, key: str) -> None:
        if key in self.missing:
            self.done.add(key)
        self.poll()

    def poll(self, force: bool = False) -> None:
        """The other ranks' answers so far (nothing to do in a single process)."""
        now = time.perf_counter()
        if self.path is None or not self.path.exists() or (not force and now - self.polled < 1.0):
            return
        self.polled = now
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        whole = data[: data.rfind(b"\n") + 1]  # a line still being written is read next time
        self.offset += len(whole)
        for m in self._KEY.finditer(whole):
            key = m.group(1).decode()
            if key in self.missing:
                self.done.add(key)


def compute_missing(cfg: RunConfig, backend, requests: list[Request], cache: OutputCache,
                    stop: list[str]) -> None:
    """Run the model on everything the cache lacks in ONE backend call (per request type),
    as lm-eval's evaluator does, so the backend sorts and batches the whole run's queue by
    length (HFLM/VLLM's Collator; the API client's concurrency spans every task). Each
    result is appended to the cache as the backend produces it: a kill -9 loses only the
    batch (or the API requests) in flight. No slicing here: HFLM bounds memory by
    --batch-size and vLLM by its own scheduler, both within the one call."""
    # the whole run, before slicing; only rank 0 shows it, so only rank 0 reads the others' answers
    counter = RunProgress(requests, cache, backend.world_size if backend.rank == 0 else 1)
    if backend.world_size > 1:
        # Data parallel: slice the full request list (not what this rank's cache lacks,
        # which changes as the other ranks write) so the slices always cover everything.
        requests = requests[backend.rank:: backend.world_size]
    # Each missing cache key once (two examples with the same text share a key).
    todo: dict[str, tuple] = {}
    for r in requests:
        for key, choice in zip(r.keys, r.choices or [None]):
            if key not in cache and key not in todo:
                todo[key] = (r, choice)
    keys = list(todo)
    with _progress(cfg.progress and backend.rank == 0) as prog:
        bar = prog.add_task("all tasks", total=counter.total, completed=counter.completed, rate="-")
        start = time.perf_counter()

        def show() -> None:
            el = time.perf_counter() - start
            new = counter.completed - counter.cached
            prog.update(bar, completed=counter.completed, rate=f"{new / el:.1f}" if el else "-")

        def on_result(i: int, value) -> None:
            if keys[i] not in cache:
                cache.put_many({keys[i]: value}, fsync=False)  # kill -9 safe once written; synced below
            counter.add(keys[i])
            show()

        if keys and cfg.mode == "generate":
            reqs = [todo[k][0] for k in keys]
            seeds = [request_seed(cfg.seed, r.task.key, r.doc_id, r.repeat) for r in reqs]
            try:
                outs = backend.generate([r.prompt for r in reqs], cfg.decoding, cfg.seed, seeds=seeds, stop=stop,
                                        on_result=on_result)
            except UserError:
                # keep what an API did answer before giving up on the rest
                done_part = getattr(backend, "partial", None) or {}
                cache.put_many({keys[i]: o for i, o in done_part.items() if keys[i] not in cache})
                cache.sync()
                raise
            # a backend that does not report results one by one: store them now
            cache.put_many({k: o for k, o in zip(keys, outs) if k not in cache})
        elif keys:
            pairs = [(todo[k][0].prompt, todo[k][1]) for k in keys]
            lps = backend.loglikelihood(pairs, on_result=on_result)
            cache.put_many({k: lp for k, lp in zip(keys, lps) if k not in cache})
        for k in keys:  # what a backend returned without reporting it one by one
            counter.add(k)
        cache.sync()
        backend.barrier()
        if backend.world_size > 1:
            counter.poll(force=True)  # the other ranks' last answers, now all written
        show()


def drop_wrong_kind(cfg: RunConfig, cache: OutputCache, requests: list[Request], warn: bool) -> None:
    """A cached value of the wrong kind for its request (a number where generated text belongs,
    text where a log-likelihood does: a damaged or hand-edited row) is computed again, never
    scored (it gave a traceback, or a wrong answer with exit 0)."""
    generate = cfg.mode == "generate"
    bad = [k for r in requests for k in r.keys
           if k in cache and isinstance(cache.get(k), str) != generate]
    if bad:
        cache.discard(bad)
        if warn:
            print(f"orca-eval: warning: {cache.path}: {len(bad)} cached output(s) of the wrong type for --mode "
                  f"{cfg.mode} ({'a number where text belongs' if generate else 'text where a number belongs'}); "
                  "computed again", file=sys.stderr)
