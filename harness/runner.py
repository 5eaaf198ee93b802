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
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import extract
from harness.models import Decoding, make_backend
from harness.models.flags import check_backend_flags
from harness.cache import OutputCache, request_key
from harness.data import load_task_data, resolve_tasks
from harness.finished import finished_run
from orca.errors import UserError
from orca.io import OneWriter, sha256_text
from harness.prompts import PROMPT_STYLES, SystemVariant, parse_system_variant, user_prompt
from harness.provenance import data_record, run_metadata, utc_now
from harness.results import summarize_variant, write_run_meta, write_samples, write_summary
from harness.run_dir import LOCK_NAME, check_output, check_same_run, output_dir
from harness.scoring import score_output, task_family, task_options, task_target
from harness.taskdefs import all_tasks, suite_module
from orca.paths import cache_dir, data_dir
from orca.progress import progress_display
from orca.values import check_device, check_number, check_seed

MODES = ("generate", "loglikelihood")
DEFAULT_MODEL_MAX_NEW_TOKENS = 32
# Answer choices of BBH families that have fixed options (for loglikelihood mode).
FIXED_CHOICES = {"true_false": ["True", "False"], "yes_no": ["Yes", "No"], "valid_invalid": ["valid", "invalid"]}


@dataclass
class RunConfig:
    suite: str = "agieval"
    model: str = "default"
    system_messages: list[str] = field(default_factory=lambda: ["1"])  # the paper's empty message
    limit: int | None = None
    mode: str = "generate"
    prompt_style: str = "orca"
    batch_size: int | None = None       # rows per step; None: chosen from memory (harness/engine.py)
    max_new_tokens: int | None = None   # 512, or 32 for the default model
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 1234
    repeats: int = 1
    output: str | None = None
    name: str | None = None
    data_dir: str | None = None
    base_url: str | None = None
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    max_retries: int = 10
    request_timeout: float = 120.0
    device: str | None = None
    dtype: str | None = None
    max_length: int | None = None
    revision: str | None = None
    use_cache: bool = True
    progress: bool = True

    def validate(self) -> None:
        if self.max_new_tokens is None:
            # The default model (tiny, trained on a few hundred examples) states its answer
            # early and rarely ends cleanly: 512 tokens of it would only make the README's
            # first command slow.
            self.max_new_tokens = DEFAULT_MODEL_MAX_NEW_TOKENS if self.model == "default" else 512
        if self.mode not in MODES:
            raise UserError(f"--mode {self.mode!r}: choose generate or loglikelihood")
        if self.prompt_style not in PROMPT_STYLES:
            raise UserError(f"--prompt-style {self.prompt_style!r}: choose from {', '.join(PROMPT_STYLES)}")
        for name, value, low in (("--limit", self.limit, 1), ("--batch-size", self.batch_size, 1),
                                 ("--max-new-tokens", self.max_new_tokens, 1), ("--repeats", self.repeats, 1),
                                 ("--concurrency", self.concurrency, 1)):
            if value is not None and value < low:
                raise UserError(f"{name} must be >= {low} (got {value})")
        self.check_values()
        if self.repeats > 1 and self.temperature == 0:
            raise UserError("--repeats > 1 needs sampling: set --temperature (the paper sampled at 0.7)")
        if self.repeats > 1 and self.mode == "loglikelihood":
            raise UserError("--repeats applies to sampled generation, not --mode loglikelihood")
        if not self.system_messages:
            raise UserError("give at least one --system-message")
        check_output(self.output)  # before the model loads, not after
        check_backend_flags(self.device, self.dtype, self.max_length, self.max_new_tokens, self.mode == "generate")

    def check_values(self) -> None:
        """Non-finite or out-of-range numbers are refused before the cache or the run
        directory is touched (nan in run.json would be invalid JSON and poison the run)."""
        check_number(self.temperature, "--temperature", low=0)
        check_number(self.top_p, "--top-p", low=0, low_open=True, high=1)
        check_seed(self.seed)
        check_number(self.rpm, "--rpm", low=0, low_open=True, none_ok=True)
        check_number(self.tpm, "--tpm", low=0, low_open=True, none_ok=True)
        check_number(self.max_retries, "--max-retries", integer=True, low=0)
        check_number(self.request_timeout, "--timeout", low=0, low_open=True)
        check_number(self.max_length, "--max-length", integer=True, low=1, none_ok=True)
        check_device(self.device)

    @property
    def decoding(self) -> Decoding:
        return Decoding(self.max_new_tokens, self.temperature, self.top_p)


@dataclass
class Request:
    variant: str
    task: str
    doc_id: int
    repeat: int
    prompt: str
    keys: list[str]                 # one per generation, or one per choice
    choices: list[str] | None = None
    labels: list[str] | None = None


def build_requests(cfg: RunConfig, backend, docs: dict[str, list[dict]], variants: list[SystemVariant]):
    """Every request of the run, with the exact prompt and its cache key(s); plus the
    tasks skipped in loglikelihood mode (no fixed options)."""
    requests, skipped = [], {}
    dec = cfg.decoding.to_json()
    # dtype and context length change outputs: part of the key (None for API models, whose
    # keys stay as they were)
    ident = [backend.output_identity] if getattr(backend, "output_identity", None) else []
    for variant in variants:
        for task, task_docs in docs.items():
            family = task_family(task)
            for doc_id, doc in enumerate(task_docs):
                prompt = backend.format_prompt(user_prompt(task, doc, cfg.prompt_style), variant.text)
                if cfg.mode == "generate":
                    for rep in range(cfg.repeats):
                        key = request_key("gen", backend.fingerprint, prompt, dec, cfg.seed if dec["do_sample"] else 0, rep,
                                          *ident)
                        requests.append(Request(variant.name, task, doc_id, rep, prompt, [key]))
                    continue
                if task.startswith("agieval/"):
                    labels = list(suite_module("agieval").OPTION_LETTERS[: len(doc["options"])])
                    choices = list(doc["options"])
                elif family in FIXED_CHOICES:
                    labels = choices = FIXED_CHOICES[family]
                elif family == "mc" and task_options(task, doc):
                    opts = task_options(task, doc)
                    labels = [f"({k})" for k in opts]
                    choices = [f"({k}) {v}" for k, v in opts.items()]
                else:
                    skipped[task] = f"family {family!r} has no fixed answer options"
                    break
                keys = [request_key("ll", backend.fingerprint, prompt, c, *ident) for c in choices]
                requests.append(Request(variant.name, task, doc_id, 0, prompt, keys, choices, labels))
    return requests, skipped


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


def request_seed(seed: int, task: str, doc_id: int, repeat: int) -> int:
    """The sampling seed of one request, for backends that take a seed per request: the
    same whatever the batch size, the task order or what the cache already held."""
    return int(request_key("seed", seed, task, doc_id, repeat)[:8], 16)


def stop_sequences(tasks: list[str]) -> list[str]:
    """The run's stop sequences: its tasks' `generation_kwargs.until` (tasks/ YAML)."""
    defs = all_tasks()
    return list(dict.fromkeys(s for t in tasks for s in defs[t].until))


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
            seeds = [request_seed(cfg.seed, r.task, r.doc_id, r.repeat) for r in reqs]
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


def score_requests(cfg: RunConfig, requests: list[Request], docs, cache: OutputCache) -> dict:
    """variant -> task -> sample rows."""
    out: dict[str, dict[str, list[dict]]] = {}
    for r in requests:
        doc = docs[r.task][r.doc_id]
        row = {"doc_id": r.doc_id, "repeat": r.repeat, "prompt_sha": sha256_text(r.prompt)[:16],
               "user_sha": sha256_text(user_prompt(r.task, doc, cfg.prompt_style))[:16]}  # see harness/pairing.py
        if cfg.mode == "generate":
            output = cache.get(r.keys[0])
            row.update(output=output, **score_output(r.task, doc, output))
        else:
            lps = [cache.get(k) for k in r.keys]
            best = max(range(len(lps)), key=lambda i: lps[i])
            family = task_family(r.task)
            target = task_target(r.task, doc)
            correct = extract.is_correct(r.labels[best], target, family)
            row.update(output=r.choices[best], extracted=r.labels[best], target=target, correct=correct,
                       extracted_official=r.labels[best], correct_official=correct,
                       logprobs=[round(x, 4) for x in lps])
        out.setdefault(r.variant, {}).setdefault(r.task, []).append(row)
    return out


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
            long.setdefault(r.prompt, []).append(r.task)
    for prompt, tasks in long.items():
        if len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) > budget:
            for t in tasks:
                out[t] = out.get(t, 0) + 1
    return dict(sorted(out.items()))


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


def default_run_name(cfg: RunConfig, backend) -> str:
    base = Path(cfg.model.split(":", 1)[-1]).name or "model"
    ident = request_key(backend.fingerprint, cfg.suite, cfg.mode, cfg.prompt_style, cfg.system_messages,
                        cfg.decoding.to_json(), cfg.seed, cfg.repeats, cfg.limit)[:6]
    return f"{base}-{cfg.suite.replace('/', '_').replace(',', '+')}-{cfg.mode}-{ident}"


def run_evaluation(cfg: RunConfig) -> Path:
    """Run (or resume) an evaluation; returns the run directory."""
    cfg.validate()
    tasks = resolve_tasks(cfg.suite)
    variants = list({v.name: v for v in map(parse_system_variant, cfg.system_messages)}.values())
    data_root = cfg.data_dir if str(cfg.data_dir or "").startswith("hf:") else str(data_dir(cfg.data_dir))
    task_data = {t: load_task_data(t, data_root) for t in tasks}  # validates every file up front
    finished = finished_run(cfg, tasks, variants, data_record(data_root, task_data))
    if finished is not None:  # nothing missing: the finished run as it is, without loading the model
        if cfg.progress and int(os.environ.get("RANK", "0")) == 0:
            print(f"finished already: {finished} (same model files, settings, data and code: nothing to compute)",
                  flush=True)
        return finished
    backend = make_backend(cfg.model, cfg)
    if cfg.mode == "loglikelihood" and not backend.supports_loglikelihood:
        backend.loglikelihood([])  # raises the backend's own explanation
    check_system_messages_fit(cfg, backend, variants)

    docs = {t: d.docs for t, d in task_data.items()}  # validated once, used as loaded
    n_totals = {t: len(d) for t, d in docs.items()}
    if cfg.limit:
        docs = {t: d[: cfg.limit] for t, d in docs.items()}

    stop = stop_sequences(tasks)
    run_name = cfg.name or default_run_name(cfg, backend)
    run_dir = output_dir(cfg.output, run_name)
    meta = run_metadata(
        # resolve(): the folder a symlinked --output leads to names the run, so resuming through
        # the link does not rename it
        name=run_name if not cfg.output else (cfg.name or run_dir.resolve().name), model=backend.describe(),
        suite=cfg.suite, tasks=tasks, mode=cfg.mode, prompt_style=cfg.prompt_style, variants=variants,
        decoding=cfg.decoding.to_json(), seed=cfg.seed, repeats=cfg.repeats, limit=cfg.limit,
        execution={"batch_size": cfg.batch_size, "stop_sequences": stop,
                   # as asked (model.dtype and model.max_length are what they resolved to)
                   "requested": {"device": cfg.device, "dtype": cfg.dtype or "auto", "max_length": cfg.max_length},
                   "sampling_seeds": _sampling_seeds(cfg, backend), "world_size": backend.world_size},
        data=data_record(data_root, task_data), record_command=True, started_at=utc_now(), finished_at=None)
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
