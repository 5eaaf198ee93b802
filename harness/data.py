"""Benchmark data: which tasks a run names, and each task's examples, loaded once.

Data come from a directory (`--data-dir`, else $ORCA_DATA_DIR, else ../shared/data)
in this project's layout (`agieval/v1/*.jsonl`, `bbh/*.json`) or the upstream
repositories' layouts (AGIEval's `data/v1/`, BIG-Bench-Hard's `bbh/`), or from a
Hugging Face hub dataset with the same fields (`--data-dir hf:ORG/NAME`, one config
per task) for users with network. Each suite's layout and document schema are its
suite object's (harness/suites/).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from orca.errors import UserError
from orca.io import sha256_file
from harness import extract
from harness.scoring import unscorable_target
from harness.suites import Task, check_families, get_task, resolve, suite_task_keys


def __getattr__(name: str):
    # Read when asked, not at import: a suite registered later (a test's own) is included.
    if name == "SUITES":
        return suite_task_keys()          # suite -> task keys, plus "all"
    if name == "ALL_TASKS":
        return suite_task_keys()["all"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def resolve_tasks(spec: str) -> list[Task]:
    """`agieval`, `bbh`, `all`, `agieval/lsat-ar`, a bare task name, or a comma list -> tasks."""
    check_families()  # a task YAML naming an unknown answer family fails here, before any work
    return resolve(spec)


@dataclass
class TaskData:
    task: str          # "agieval/lsat-ar"
    docs: list[dict]
    source: str        # file path or hub id
    sha256: str


def _load_from_hub(hub_id: str, task: Task) -> TaskData:
    """Same fields from a Hugging Face dataset (needs network; not used in tests)."""
    import datasets

    name = task.name
    try:
        ds = datasets.load_dataset(hub_id, name, split="test")
    except Exception as e:  # network, missing config: the user's setup, one line
        raise UserError(f"{task.key}: cannot load hub dataset {hub_id!r} config {name!r}: {e}".splitlines()[0]) from None
    docs = [task.suite.validate_doc(dict(r), f"{hub_id}/{name}[{i}]") for i, r in enumerate(ds)]
    _check_targets(task, docs, f"{hub_id}/{name}")
    return TaskData(task.key, docs, f"hf:{hub_id}/{name}", getattr(ds, "_fingerprint", "") or "")


def _check_targets(task: Task, docs: list[dict], where: str) -> None:
    """An example whose target no answer can match (a "Maybe" in navigate) would be counted
    wrong whatever the model says: refused, naming the example (suites whose targets are
    free text ask for it: `check_targets`)."""
    suite = task.suite
    if not suite.check_targets:
        return
    for i, doc in enumerate(docs):
        why = unscorable_target(task, doc)
        if why:
            raise UserError(f"{where}: examples[{i}]: field {suite.target_field!r} {doc[suite.target_field]!r} can "
                            f"never be scored right ({why}); fix or remove that example")


def load_task_data(task: Task | str, data_dir: str) -> TaskData:
    """Load one task's examples from `data_dir` (a folder, or `hf:ORG/NAME`)."""
    return _load_task_data(get_task(task).key, data_dir)


@lru_cache(maxsize=128)
def _load_task_data(key: str, data_dir: str) -> TaskData:
    task = get_task(key)
    if data_dir.startswith("hf:"):
        return _load_from_hub(data_dir[3:], task)
    docs, path = task.suite.load(task, Path(data_dir))
    _check_targets(task, docs, str(path))
    return TaskData(task.key, docs, str(path), sha256_file(path))


load_task_data.cache_clear = _load_task_data.cache_clear  # as when it was the cached function itself


def damaged_targets(docs_by_task) -> dict[str, list[str]]:
    """Gold targets of letter tasks that are not an option letter, per task (task or key ->
    docs). BBH split three comma-containing options into several ("Monsters, Inc" =
    "(A) Monsters" + "(B) Inc") and kept the joined text as the target; the official rule (a
    letter) can never score them, the robust one scores the stated text. Recorded in run.json
    under data.damaged_targets so a reader sees why official accuracy stays below 100 % there."""
    out: dict[str, list[str]] = {}
    for task, docs in docs_by_task.items():
        task = get_task(task)
        if task.family != "mc":
            continue
        targets = {str(task.target(d)) for d in docs}
        bad = sorted(t for t in targets if len(extract.normalize_target(t, "mc")) != 1)
        if bad:
            out[task.key] = bad
    return out


def load_lm_eval_dataset(task: str, data_dir: str | None = None, **_):
    """lm-eval `custom_dataset` hook: one task as a DatasetDict with a `test` split.
    lm-eval passes the TaskManager metadata (our `data_dir`) and `dataset_kwargs`."""
    import datasets

    from orca.paths import data_dir as resolve_data_dir

    source = data_dir if str(data_dir or "").startswith("hf:") else str(resolve_data_dir(data_dir))
    rows = [{"doc_id": i, "task": task, **d} for i, d in enumerate(load_task_data(task, source).docs)]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
