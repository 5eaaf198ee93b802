"""The benchmark suites, one object each (harness/suites/base.py `Suite`), and their tasks.

A suite is a folder of lm-eval task YAML, `tasks/<suite>/`, plus one module here,
`harness/suites/<suite>.py`, whose `SUITE` is its `Suite` object: adding a benchmark is
those two and nothing else. The folders are found in tasks/, in name order (the order of
`all` and of `orca-eval tasks`); `register` adds a suite from elsewhere (a test's own).
"""
from __future__ import annotations

import difflib
import importlib
from functools import lru_cache

from orca.errors import UserError
from harness.paths import TASKS_DIR
from harness.suites.base import FIXED_CHOICES, PROMPT_STYLES, Suite, Task
from harness.suites.taskyaml import TaskDef, load_suites, suite_names

__all__ = ["FIXED_CHOICES", "PROMPT_STYLES", "Suite", "Task", "TaskDef", "all_tasks", "check_families",
           "default_budget", "get_suite", "get_task", "load_suites", "register", "resolve", "suite_task_keys",
           "stop_sequences", "suites", "unregister"]

_added: dict[str, Suite] = {}   # suites registered at run time, after the built-in ones
_tasks: dict[str, Task] | None = None


@lru_cache(maxsize=1)
def _builtin() -> dict[str, Suite]:
    out = {}
    for name in suite_names(TASKS_DIR):
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise UserError(f"{TASKS_DIR / name}: no suite module harness/suites/{name}.py "
                            "(its data layout, target field and prompts)") from None
        suite = getattr(module, "SUITE", None)
        if not isinstance(suite, Suite) or suite.name != name:
            raise UserError(f"harness/suites/{name}.py: SUITE must be the Suite object named {name!r}")
        out[name] = suite
    return out


def suites() -> dict[str, Suite]:
    """name -> suite: the built-in ones in folder order, then any registered."""
    return {**_builtin(), **_added}


def register(suite: Suite) -> Suite:
    """Add a suite whose task folder is `suite.tasks_dir / suite.name` (not tasks/)."""
    if suite.name in suites() or suite.name == "all":
        raise ValueError(f"a suite named {suite.name!r} exists already")
    _added[suite.name] = suite
    _forget()
    return suite


def unregister(name: str) -> None:
    _added.pop(name, None)
    _forget()


def _forget() -> None:
    global _tasks
    _tasks = None


def get_suite(name: str) -> Suite | None:
    return suites().get(name)


def all_tasks() -> dict[str, Task]:
    """task key -> task, suites in order, each suite's tasks in its group file's order."""
    global _tasks
    if _tasks is None:
        _tasks = {t.key: t for s in suites().values() for t in s.tasks}
    return _tasks


def get_task(task: Task | str) -> Task:
    """The task of a key ("bbh/navigate"); a Task is returned as it is."""
    if isinstance(task, Task):
        return task
    try:
        return all_tasks()[task]
    except (KeyError, TypeError):
        raise UserError(f"unknown task {task!r}") from None


def suite_task_keys() -> dict[str, list[str]]:
    """suite -> its task keys, and `all` -> every task key."""
    out = {name: [t.key for t in s.tasks] for name, s in suites().items()}
    out["all"] = [k for keys in out.values() for k in keys]
    return out


def resolve(spec: str) -> list[Task]:
    """`agieval`, `bbh`, `all`, `agieval/lsat-ar`, a bare task name, or a comma list -> tasks."""
    named, tasks = suite_task_keys(), all_tasks()
    out: list[str] = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        if part in named:
            out += named[part]
        elif part in tasks:
            out.append(part)
        else:
            bare = [k for k, t in tasks.items() if t.name == part]
            if len(bare) == 1:
                out.append(bare[0])
                continue
            close = difflib.get_close_matches(part, list(named) + list(tasks), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see `orca-eval tasks`"
            raise UserError(f"unknown suite or task {part!r}{hint}")
    if not out:
        raise UserError("no suite or task given")
    return [tasks[k] for k in dict.fromkeys(out)]


def check_families(tasks_dir=None) -> None:
    """Every task names a known answer family (run before any work; harness.extract cannot
    check at import, it is what defines the families). `tasks_dir`: a tasks/ folder to read
    instead of the registered suites."""
    from harness.extract import FAMILIES

    defs = all_tasks().values() if tasks_dir is None else [t for ts in load_suites(tasks_dir).values() for t in ts]
    for t in defs:
        if t.family not in FAMILIES:
            raise UserError(f"{t.path}: field 'metadata.family': unknown answer family {t.family!r} "
                            f"(known: {', '.join(FAMILIES)})")


def default_budget(tasks=None) -> int:
    """The generation budget when none is given: the largest `max_gen_toks` of `tasks`
    (every task when None), so one run with several suites cuts none of them short."""
    return max(t.max_gen_toks for t in (all_tasks().values() if tasks is None else tasks))


def stop_sequences(tasks=None) -> list[str]:
    """Where generation stops: the `generation_kwargs.until` of `tasks` (every task when None,
    the fallback for a request that names none), in first-seen order without repeats. The one
    source of stop sequences: a run's list (run.json) and the backends' fallback both come here."""
    return list(dict.fromkeys(s for t in (all_tasks().values() if tasks is None else tasks) for s in t.until))
