"""`orca-eval run`: evaluate a model on AGIEval / BBH under system-message variants.

Flow: resolve tasks and variants (tasks/ YAML) -> load each task's examples once ->
build every request's exact prompt -> look each one up in the output cache -> send
everything missing, across tasks x variants x repeats, to the backend in one call (as
lm-eval's evaluator does: the backend sorts the whole queue by length and batches it),
writing each result to the cache as it is produced (so a killed run resumes) -> score
with both extractors -> write the result files atomically (harness/results.py).
run.json is built by harness/provenance.py; which --output folder may be written (new,
empty, or this same run, resumed) is harness/run_dir.py's rule.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from harness.models import make_backend
from harness.cache import OutputCache
from harness.data import load_task_data, resolve_tasks
from harness.finished import finished_run
from orca.errors import UserError
from orca.io import OneWriter
from harness.prompts import SystemVariant, parse_system_variant
from harness.provenance import data_record, run_metadata, utc_now
from harness.results import summarize_variant, write_run_meta, write_samples, write_summary
from harness.run_compute import compute_missing, drop_wrong_kind
from harness.run_config import RunConfig, default_run_name
from harness.run_dir import LOCK_NAME, check_same_run, output_dir
from harness.run_requests import Request, build_requests, score_requests
from harness.suites import stop_sequences
from orca.paths import cache_dir, data_dir

__all__ = ["RunConfig", "default_run_name", "run_evaluation", "stop_sequences"]


def _sampling_seeds(cfg: RunConfig, backend) -> dict | None:
    """How sampled outputs are seeded (None for greedy runs), so a reader knows what
    reproduces them."""
    if not cfg.decoding.do_sample:
        return None
    if getattr(backend, "per_request_seed", False):
        return {"per_request": True, "depends_on_batch_composition": False,
                "rule": "seed of each request derived from (--seed, task, doc_id, repeat)"}
    return {"per_request": False, "depends_on_batch_composition": True,
            "rule": "one generator per run seeded with --seed; the same command reproduces the outputs, "
                    "but a different --batch-size, task list or cache state changes which requests share "
                    "a batch, and so the samples"}


def check_system_messages_fit(cfg: RunConfig, backend, variants: list[SystemVariant]) -> None:
    """A system message that alone fills the model's context (a 1 MB `--system-message @file`)
    would have every prompt cut from the left -- the question gone -- without a word: refused.
    Local models only (an API's server reports its own limit); one tokenization per variant,
    and none for a message with fewer characters than the tokens it may take."""
    lm, tokenizer = getattr(backend, "lm", None), getattr(backend, "tokenizer", None)
    max_length = getattr(lm, "max_length", None)
    if tokenizer is None or not isinstance(max_length, int):
        return
    budget = max_length - (cfg.max_new_tokens if cfg.mode == "generate" else 0)
    for v in variants:
        if not v.text or len(v.text) < budget:
            continue
        n = len(tokenizer(v.text, add_special_tokens=False)["input_ids"])
        if n >= budget:
            raise UserError(f"--system-message {v.name}: {n:,} tokens, more than the model's context leaves for it "
                            f"({max_length:,} tokens" + (f" less {cfg.max_new_tokens} for the answer"
                                                         if cfg.mode == "generate" else "") +
                            "); every prompt would be cut before the question -- shorten it")


def count_truncated(cfg: RunConfig, backend, requests: list[Request]) -> dict[str, int]:
    """Per task, the prompts a local model will see cut from the left (longer than its context
    less the answer's tokens). Only prompts with at least as many characters as the budget are
    tokenized: a token covers at least one character."""
    lm, tokenizer = getattr(backend, "lm", None), getattr(backend, "tokenizer", None)
    max_length = getattr(lm, "max_length", None)
    if tokenizer is None or not isinstance(max_length, int):
        return {}
    budget = max_length - (cfg.max_new_tokens if cfg.mode == "generate" else 0)
    out: dict[str, int] = {}
    long = {}
    for r in requests:
        if len(r.prompt) >= budget:
            long.setdefault(r.prompt, []).append(r.task.key)
    for prompt, tasks in long.items():
        if len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) > budget:
            for t in tasks:
                out[t] = out.get(t, 0) + 1
    return dict(sorted(out.items()))


def run_evaluation(cfg: RunConfig) -> Path:
    """Run (or resume) an evaluation; returns the run directory."""
    cfg.validate()
    tasks = resolve_tasks(cfg.suite)
    keys = [t.key for t in tasks]
    variants = list({v.name: v for v in map(parse_system_variant, cfg.system_messages)}.values())
    data_root = cfg.data_dir if str(cfg.data_dir or "").startswith("hf:") else str(data_dir(cfg.data_dir))
    task_data = {t.key: load_task_data(t, data_root) for t in tasks}  # validates every file up front
    data = data_record(data_root, task_data)
    finished = finished_run(cfg, keys, variants, data)
    if finished is not None:  # nothing missing: the finished run as it is, without loading the model
        if cfg.progress and int(os.environ.get("RANK", "0")) == 0:
            print(f"finished already: {finished} (same model files, settings, data and code: nothing to compute)",
                  flush=True)
        return finished
    backend = make_backend(cfg.model, cfg)
    if cfg.mode == "loglikelihood" and not backend.supports_loglikelihood:
        backend.loglikelihood([])  # raises the backend's own explanation
    check_system_messages_fit(cfg, backend, variants)

    docs = {t: task_data[t.key].docs for t in tasks}  # validated once, used as loaded
    n_totals = {t.key: len(d) for t, d in docs.items()}
    if cfg.limit:
        docs = {t: d[: cfg.limit] for t, d in docs.items()}

    stop = stop_sequences(tasks)
    run_name = cfg.name or default_run_name(cfg, backend)
    run_dir = output_dir(cfg.output, run_name)
    meta = run_metadata(
        # resolve(): the folder a symlinked --output leads to names the run, so resuming through
        # the link does not rename it
        name=run_name if not cfg.output else (cfg.name or run_dir.resolve().name), model=backend.describe(),
        suite=cfg.suite, tasks=keys, mode=cfg.mode, prompt_style=cfg.prompt_style, variants=variants,
        decoding=cfg.decoding.to_json(), seed=cfg.seed, repeats=cfg.repeats, limit=cfg.limit,
        execution={"batch_size": cfg.batch_size, "stop_sequences": stop,
                   # as asked (model.dtype and model.max_length are what they resolved to)
                   "requested": {"device": cfg.device, "dtype": cfg.dtype or "auto", "max_length": cfg.max_length},
                   "sampling_seeds": _sampling_seeds(cfg, backend), "world_size": backend.world_size},
        data=data, record_command=True, started_at=utc_now(), finished_at=None)
    requests, skipped = build_requests(cfg, backend, docs, variants)
    if skipped:
        meta["skipped_tasks"] = skipped
    truncated = count_truncated(cfg, backend, requests)
    if truncated:
        meta["truncated_prompts"] = truncated
        if backend.rank == 0:
            print(f"orca-eval: warning: {sum(truncated.values())} prompt(s) longer than the model's context are cut "
                  f"from the left ({', '.join(f'{t} {n}' for t, n in truncated.items())}); recorded in run.json "
                  "truncated_prompts", file=sys.stderr)
    if backend.rank == 0:  # the other ranks only compute; they never look at or write the run directory
        # Two identical commands on one folder: the second says so (it used to fail later, on
        # a file the first one had just replaced). Held until this function returns.
        check_same_run(run_dir, meta)  # first: a file where the folder should be is said as such
        writer = OneWriter(run_dir, "orca-eval run", lock_path=run_dir / LOCK_NAME,  # noqa: F841
                           instead="give another --output").hold()
        write_run_meta(run_dir, meta)
        # From here the run is being (re)computed: a summary.json of an earlier attempt would
        # read as this run's result if this one is killed. It is rewritten at the end.
        (run_dir / "summary.json").unlink(missing_ok=True)

    cache = OutputCache(cache_dir() / "outputs" / f"{backend.fingerprint}.jsonl", read=cfg.use_cache)
    drop_wrong_kind(cfg, cache, requests, warn=backend.rank == 0)
    if backend.world_size > 1:
        # No rank writes to the cache before every rank has read it, so all agree on what was
        # cached before the run (rank 0's progress counts that apart from new answers).
        backend.barrier()
    t0 = time.perf_counter()
    compute_missing(cfg, backend, requests, cache, stop)
    if backend.rank != 0:
        return run_dir
    if backend.world_size > 1:
        cache = OutputCache(cache.path)  # other ranks' results
        drop_wrong_kind(cfg, cache, requests, warn=False)
    missing = sum(1 for r in requests for k in r.keys if k not in cache)
    if missing:  # never score a hole as a wrong answer
        raise RuntimeError(f"{missing} model outputs missing from {cache.path} after the run")
    samples = score_requests(cfg, requests, docs, cache)
    for variant, by_task in samples.items():
        for task, rows in by_task.items():
            write_samples(run_dir, variant, task, rows)
    kept = {t: n for t, n in n_totals.items() if t not in skipped}
    summary = {"variants": {v: summarize_variant(by_task, kept) for v, by_task in samples.items()}}
    write_summary(run_dir, summary)
    if getattr(backend, "engine_stats", None):
        meta["engine"] = backend.engine_stats  # this invocation's generation (not the cached part)
    meta["finished_at"] = utc_now()
    meta["elapsed_s"] = round(time.perf_counter() - t0, 2)
    meta["n_requests"] = len(requests)
    write_run_meta(run_dir, meta)
    return run_dir
