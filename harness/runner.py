"""`orca-eval run`: evaluate a model on AGIEval / BBH under system-message variants.

Flow: resolve tasks and variants -> load examples through lm-eval's TaskManager (our
task YAML in tasks/) -> build every request's exact prompt -> look each one up in the
output cache -> compute what is missing, in batches, appending to the cache as it
goes (so a killed run resumes) -> score with both extractors -> write the result
files atomically (harness/results.py).
"""
from __future__ import annotations

import logging
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from harness import extract
from harness.backends import Decoding, make_backend
from harness.cache import OutputCache, request_key
from harness.data import load_task_data, resolve_tasks
from harness.errors import UserError
from harness.io import sha256_text
from harness.prompts import PROMPT_STYLES, SystemVariant, parse_system_variant, user_prompt
from harness.results import summarize_variant, write_run_meta, write_samples, write_summary
from harness.scoring import score_output, task_family, task_options
from orca.paths import PROJECT_ROOT, RESULTS_DIR, TASKS_DIR, cache_dir, data_dir

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
    batch_size: int = 16
    max_new_tokens: int | None = None   # 512, or 32 for the random default model
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
            # The default model is random noise that never ends its answer: 512 tokens of
            # it would only make the README's first command slow.
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
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise UserError("--temperature must be >= 0 and --top-p in (0, 1]")
        if self.repeats > 1 and self.temperature == 0:
            raise UserError("--repeats > 1 needs sampling: set --temperature (the paper sampled at 0.7)")
        if self.repeats > 1 and self.mode == "loglikelihood":
            raise UserError("--repeats applies to sampled generation, not --mode loglikelihood")
        if not self.system_messages:
            raise UserError("give at least one --system-message")

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


def load_docs(tasks: list[str], data_root: str) -> dict[str, list[dict]]:
    """Examples of each task through lm-eval's TaskManager over our task YAML."""
    from lm_eval.tasks import TaskManager

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    tm = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata={"data_dir": data_root})
    names = {f"orca_{t.replace('/', '_').replace('-', '_')}": t for t in tasks}
    loaded = tm.load(list(names))["tasks"]
    out = {}
    for lm_name, task in names.items():
        docs = [dict(d) for d in loaded[lm_name].test_docs()]
        out[task] = [{k: v for k, v in d.items() if k not in ("doc_id", "task")} for d in docs]
    return out


def package_versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for pkg in ("orca-eval", "lm-eval", "torch", "transformers", "datasets", "openai", "deepspeed", "vllm"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+dirty" if dirty else "")) or None


# The fields that make two runs "the same run": a directory holding a run that
# differs in any of them is refused instead of being mixed with this one.
IDENTITY_FIELDS = ("model.fingerprint", "tasks", "mode", "prompt_style", "variants", "decoding", "seed",
                   "repeats", "limit")


def _get(d: dict, dotted: str):
    for part in dotted.split("."):
        d = (d or {}).get(part)
    return d


def check_output_dir(run_dir: Path, meta: dict) -> None:
    existing_file = run_dir / "run.json"
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--output {run_dir}: exists and is not a directory")
    if not existing_file.exists():
        if run_dir.exists() and any(p.name != ".gitkeep" for p in run_dir.iterdir()):
            raise UserError(f"--output {run_dir}: not empty and holds no orca-eval run (run.json)")
        return
    import json
    try:
        old = json.loads(existing_file.read_text())
    except json.JSONDecodeError:
        raise UserError(f"{existing_file}: corrupt run.json; choose another --output") from None
    for f in IDENTITY_FIELDS:
        if _get(old, f) != _get(meta, f):
            what = "a different model" if f == "model.fingerprint" else f"a different {f.split('.')[0]}"
            raise UserError(f"--output {run_dir}: holds a run of {what} ({_get(old, 'model.spec')}); "
                            "choose another --output")


def build_requests(cfg: RunConfig, backend, docs: dict[str, list[dict]], variants: list[SystemVariant]):
    """Every request of the run, with the exact prompt and its cache key(s); plus the
    tasks skipped in loglikelihood mode (no fixed options)."""
    requests, skipped = [], {}
    dec = cfg.decoding.to_json()
    for variant in variants:
        for task, task_docs in docs.items():
            family = task_family(task)
            for doc_id, doc in enumerate(task_docs):
                prompt = backend.format_prompt(user_prompt(task, doc, cfg.prompt_style), variant.text)
                if cfg.mode == "generate":
                    for rep in range(cfg.repeats):
                        key = request_key("gen", backend.fingerprint, prompt, dec, cfg.seed if dec["do_sample"] else 0, rep)
                        requests.append(Request(variant.name, task, doc_id, rep, prompt, [key]))
                    continue
                if task.startswith("agieval/"):
                    labels = list("ABCDEFG"[: len(doc["options"])])
                    choices = list(doc["options"])
                elif family in FIXED_CHOICES:
                    labels = choices = FIXED_CHOICES[family]
                elif family == extract.AGIEVAL_FAMILY and task_options(task, doc):
                    opts = task_options(task, doc)
                    labels = [f"({k})" for k in opts]
                    choices = [f"({k}) {v}" for k, v in opts.items()]
                else:
                    skipped[task] = f"family {family!r} has no fixed answer options"
                    break
                keys = [request_key("ll", backend.fingerprint, prompt, c) for c in choices]
                requests.append(Request(variant.name, task, doc_id, 0, prompt, keys, choices, labels))
    return requests, skipped


def _progress(enabled: bool):
    """Rich bars on a terminal; in a log (not a TTY), one plain line per finished task."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    if enabled and not Console().is_terminal:
        return _LineProgress()
    return Progress(TextColumn("{task.description:<48}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]:>8} ex/s"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), disable=not enabled, transient=False)


class _LineProgress:
    """The subset of rich.progress.Progress the runner uses, printing plain lines."""

    def __init__(self):
        self.tasks: dict[int, dict] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, description: str, total: int, **fields) -> int:
        self.tasks[len(self.tasks)] = {"description": description, "total": total, "done": 0,
                                       "start": time.perf_counter()}
        return len(self.tasks) - 1

    def update(self, task_id: int, advance: int = 0, **fields) -> None:
        t = self.tasks[task_id]
        t["done"] += advance
        if t["done"] >= t["total"] and task_id != 0:
            el = time.perf_counter() - t["start"]
            print(f"{t['description']}: {t['total']} examples in {el:.1f} s ({t['total'] / max(el, 1e-9):.1f} ex/s)",
                  flush=True)


def compute_missing(cfg: RunConfig, backend, requests: list[Request], cache: OutputCache) -> None:
    """Run the model on every request the cache lacks, a chunk at a time, appending
    results to the cache after each chunk."""
    if backend.world_size > 1:
        # Data parallel: slice the full request list (not what this rank's cache lacks,
        # which changes as the other ranks write) so the slices always cover everything.
        requests = requests[backend.rank:: backend.world_size]
    todo = [r for r in requests if any(k not in cache for k in r.keys)]
    groups: dict[tuple, list[Request]] = {}
    for r in todo:
        groups.setdefault((r.variant, r.task), []).append(r)
    # A chunk is the unit of resumption (written to the cache when done): a few batches,
    # so the backend can still sort by length within it.
    chunk = max(cfg.batch_size * 4, 16)
    if cfg.model.startswith("openai:"):
        chunk = max(cfg.concurrency * 4, 32)
    with _progress(cfg.progress and backend.rank == 0) as prog:
        overall = prog.add_task("all tasks", total=len(todo), rate="-")
        start = time.perf_counter()
        done = 0
        for (variant, task), reqs in groups.items():
            bar = prog.add_task(f"{variant} {task}", total=len(reqs), rate="-")
            t0 = time.perf_counter()
            for i in range(0, len(reqs), chunk):
                part = reqs[i: i + chunk]
                if cfg.mode == "generate":
                    # One seed per chunk keeps sampled runs reproducible for a given cache state.
                    seed = cfg.seed + 1000 * part[0].repeat + i
                    try:
                        outs = backend.generate([r.prompt for r in part], cfg.decoding, seed)
                    except UserError:
                        # keep what an API did answer before giving up on the rest
                        done_part = getattr(backend, "partial", None) or {}
                        cache.put_many({part[i].keys[0]: o for i, o in done_part.items()})
                        raise
                    cache.put_many({r.keys[0]: o for r, o in zip(part, outs)})
                else:
                    pairs = [(r.prompt, c) for r in part for c in r.choices]
                    keys = [k for r in part for k in r.keys]
                    lps = backend.loglikelihood(pairs)
                    cache.put_many(dict(zip(keys, lps)))
                done += len(part)
                el, el_all = time.perf_counter() - t0, time.perf_counter() - start
                prog.update(bar, advance=len(part), rate=f"{(i + len(part)) / el:.1f}" if el else "-")
                prog.update(overall, advance=len(part), rate=f"{done / el_all:.1f}" if el_all else "-")
            prog.update(bar, visible=False)  # keep the screen to the overall bar and the current task
    backend.barrier()


def score_requests(cfg: RunConfig, requests: list[Request], docs, cache: OutputCache) -> dict:
    """variant -> task -> sample rows."""
    out: dict[str, dict[str, list[dict]]] = {}
    for r in requests:
        doc = docs[r.task][r.doc_id]
        row = {"doc_id": r.doc_id, "repeat": r.repeat, "prompt_sha": sha256_text(r.prompt)[:16]}
        if cfg.mode == "generate":
            output = cache.get(r.keys[0])
            row.update(output=output, **score_output(r.task, doc, output))
        else:
            lps = [cache.get(k) for k in r.keys]
            best = max(range(len(lps)), key=lambda i: lps[i])
            family = task_family(r.task)
            target = doc["label"] if r.task.startswith("agieval/") else doc["target"]
            correct = extract.is_correct(r.labels[best], target, family)
            row.update(output=r.choices[best], extracted=r.labels[best], target=target, correct=correct,
                       extracted_official=r.labels[best], correct_official=correct,
                       logprobs=[round(x, 4) for x in lps])
        out.setdefault(r.variant, {}).setdefault(r.task, []).append(row)
    return out


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
    backend = make_backend(cfg.model, cfg)
    if cfg.mode == "loglikelihood" and not backend.supports_loglikelihood:
        backend.loglikelihood([])  # raises the backend's own explanation

    docs = load_docs(tasks, data_root)
    n_totals = {t: len(d) for t, d in docs.items()}
    if cfg.limit:
        docs = {t: d[: cfg.limit] for t, d in docs.items()}

    run_name = cfg.name or default_run_name(cfg, backend)
    run_dir = Path(cfg.output) if cfg.output else RESULTS_DIR / "runs" / run_name
    meta = {
        "name": run_name if not cfg.output else (cfg.name or run_dir.name),
        "model": backend.describe(),
        "suite": cfg.suite,
        "tasks": tasks,
        "mode": cfg.mode,
        "prompt_style": cfg.prompt_style,
        "variants": {v.name: v.to_json() for v in variants},
        "decoding": cfg.decoding.to_json(),
        "seed": cfg.seed,
        "repeats": cfg.repeats,
        "limit": cfg.limit,
        "batch_size": cfg.batch_size,
        "world_size": backend.world_size,
        "data": {"dir": data_root, "sources": {t: d.source for t, d in task_data.items()},
                 "hashes": {t: d.sha256 for t, d in task_data.items()},
                 "damaged_targets": extract.damaged_targets({t: d.docs for t, d in task_data.items()})},
        "packages": package_versions(),
        "git_commit": git_commit(),
        "command": " ".join(sys.argv) if sys.argv and "orca-eval" in sys.argv[0] else None,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "finished_at": None,
    }
    requests, skipped = build_requests(cfg, backend, docs, variants)
    if skipped:
        meta["skipped_tasks"] = skipped
    if backend.rank == 0:  # the other ranks only compute; they never look at or write the run directory
        check_output_dir(run_dir, meta)
        write_run_meta(run_dir, meta)

    cache = OutputCache(cache_dir() / "outputs" / f"{backend.fingerprint}.jsonl", read=cfg.use_cache)
    t0 = time.perf_counter()
    compute_missing(cfg, backend, requests, cache)
    if backend.rank != 0:
        return run_dir
    if backend.world_size > 1:
        cache = OutputCache(cache.path)  # other ranks' results
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
    meta["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta["elapsed_s"] = round(time.perf_counter() - t0, 2)
    meta["n_requests"] = len(requests)
    write_run_meta(run_dir, meta)
    return run_dir


def print_summary(run_dir: Path, console=None) -> None:
    """The final rich table: accuracy per task and variant, with suite averages."""
    import json

    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    summary = json.loads((run_dir / "summary.json").read_text())
    meta = json.loads((run_dir / "run.json").read_text())
    variants = list(summary["variants"])
    table = Table(title=f"{meta['model']['spec']} -- {meta['mode']}, prompt style {meta['prompt_style']}"
                  + (f", limit {meta['limit']}" if meta.get("limit") else ""))
    table.add_column("task")
    table.add_column("n", justify="right")
    for v in variants:
        table.add_column(f"{v} acc %", justify="right")
        table.add_column("official", justify="right", style="dim")
        table.add_column("unparsed %", justify="right", style="dim")
    tasks = list(next(iter(summary["variants"].values()))["tasks"])
    for t in tasks:
        cells = [t, str(summary["variants"][variants[0]]["tasks"][t]["n"])]
        for v in variants:
            s = summary["variants"][v]["tasks"][t]
            acc = f"{s['accuracy']:.1f}" + (f" ± {s['accuracy_std']:.1f}" if "accuracy_std" in s else "")
            cells += [acc, f"{s['accuracy_official']:.1f}", f"{s['unparsed_rate']:.1f}"]
        table.add_row(*cells)
    for suite in next(iter(summary["variants"].values()))["suites"]:
        cells = [f"[bold]{suite} average[/bold]", ""]
        for v in variants:
            s = summary["variants"][v]["suites"][suite]
            cells += [f"[bold]{s['accuracy']:.1f}[/bold]", f"{s['accuracy_official']:.1f}", ""]
        table.add_row(*cells, end_section=False)
    console.print(table)
    for t, why in (meta.get("skipped_tasks") or {}).items():
        console.print(f"[yellow]skipped {t}[/yellow]: {why}")
    console.print(f"results: {run_dir}")
