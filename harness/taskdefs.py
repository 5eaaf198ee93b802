"""tasks/ read as data: the one source of the suites, their task order, each task's
answer family and stop sequences (the lm-eval YAML), and of each suite's target field
and option letters (the suite's helper module that the YAML names, `tasks/<suite>/utils.py`).

Layout read here (and by lm-eval's TaskManager, the same files):
- `tasks/<suite>/_<suite>.yaml`: the lm-eval group `orca_<suite>`; its `task:` list is the
  suite's task order.
- `tasks/<suite>/<name>.yaml`: one task; `dataset_kwargs.task` is our key (`bbh/navigate`),
  `metadata.family` the answer family (harness/extract/ FAMILIES), `generation_kwargs.until`
  the stop sequences. Keys missing in the task file come from the template it `include:`s.

Why not lm-eval's own YAML loader: importing `lm_eval.tasks` takes ~3 s (datasets, the
task index) and this is read on every `import harness.extract`; the format is plain YAML plus
`include:` (a shallow merge, local keys win) and `!function` tags, which we only need by name.
lm-eval also skips a YAML it cannot load without a word; here a broken file is one line, exit 2.
"""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import yaml

from orca.errors import UserError
from harness.paths import TASKS_DIR


@dataclass(frozen=True)
class TaskDef:
    key: str                 # "bbh/navigate"
    lm_name: str             # "orca_bbh_navigate" (lm-eval's task name)
    suite: str               # "bbh"
    family: str              # answer family: "yes_no"
    until: tuple[str, ...]   # stop sequences
    path: Path               # the task's YAML file


class _FunctionRef(str):
    """A `!function utils.name` tag, kept as its name (resolved by lm-eval, not here)."""


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    pass


_Loader.add_constructor("!function", lambda loader, node: _FunctionRef(loader.construct_scalar(node)))


def _read(path: Path, _seen: tuple = ()) -> dict:
    if path in _seen:
        raise UserError(f"{path}: include: cycle")
    try:
        cfg = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (safe loader + one tag)
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise UserError(f"{where}: malformed YAML ({getattr(e, 'problem', None) or e})") from None
    if not isinstance(cfg, dict):
        raise UserError(f"{path}: expected a YAML mapping of lm-eval task fields")
    includes = cfg.pop("include", None)
    if includes is None:
        return cfg
    merged: dict = {}
    for inc in includes if isinstance(includes, list) else [includes]:
        merged.update(_read(path.parent / str(inc), _seen + (path,)))
    merged.update(cfg)
    return merged


def _field(cfg: dict, dotted: str, path: Path, kind: type):
    value = cfg
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        raise UserError(f"{path}: missing field {dotted!r}")
    if not isinstance(value, kind):
        raise UserError(f"{path}: field {dotted!r} must be a {kind.__name__} (got {value!r})")
    return value


def _suite_tasks(suite_dir: Path) -> list[TaskDef]:
    suite = suite_dir.name
    group_file = suite_dir / f"_{suite}.yaml"
    group = _read(group_file)
    if group.get("group") != f"orca_{suite}":
        raise UserError(f"{group_file}: field 'group' must be orca_{suite} (got {group.get('group')!r})")
    members = _field(group, "task", group_file, list)
    by_name: dict[str, tuple[Path, dict]] = {}
    for path in sorted(suite_dir.glob("*.yaml")):
        if path == group_file:
            continue
        cfg = _read(path)
        by_name[_field(cfg, "task", path, str)] = (path, cfg)
    out = []
    for name in members:
        if name not in by_name:
            raise UserError(f"{group_file}: field 'task' names {name!r}, which no task YAML in {suite_dir} defines")
        path, cfg = by_name[name]
        key = _field(cfg, "dataset_kwargs.task", path, str)
        if not key.startswith(f"{suite}/") or name != "orca_" + key.replace("/", "_").replace("-", "_"):
            raise UserError(f"{path}: field 'dataset_kwargs.task' {key!r} does not match task {name!r} "
                            f"(expected {suite}/<name>)")
        until = _field(cfg, "generation_kwargs.until", path, list)
        if not until or not all(isinstance(s, str) and s for s in until):
            raise UserError(f"{path}: field 'generation_kwargs.until' must be a list of non-empty strings")
        out.append(TaskDef(key, name, suite, _field(cfg, "metadata.family", path, str), tuple(until), path))
    return out


@lru_cache(maxsize=4)
def load_suites(tasks_dir: str | Path = TASKS_DIR) -> dict[str, list[TaskDef]]:
    """suite -> its tasks in the group's order, for every `tasks/<suite>/_<suite>.yaml`."""
    suites = {d.name: _suite_tasks(d) for d in sorted(Path(tasks_dir).iterdir())
              if d.is_dir() and (d / f"_{d.name}.yaml").is_file()}
    if not suites:
        raise UserError(f"{tasks_dir}: no suite (tasks/<suite>/_<suite>.yaml)")
    return suites


def all_tasks(tasks_dir: str | Path = TASKS_DIR) -> dict[str, TaskDef]:
    """task key -> its definition, suites in folder order."""
    tasks_dir = Path(tasks_dir)
    return {t.key: t for tasks in load_suites(tasks_dir).values() for t in tasks}


def suite_families(suite: str, tasks_dir: str | Path = TASKS_DIR) -> dict[str, str]:
    """Bare task name -> answer family, e.g. {"navigate": "yes_no", ...}."""
    tasks_dir = Path(tasks_dir)
    return {t.key.split("/", 1)[1]: t.family for t in load_suites(tasks_dir).get(suite, [])}


def check_families(tasks_dir: str | Path = TASKS_DIR) -> None:
    """Every task names a known answer family (run before any work; harness.extract cannot
    check at import, it is what defines the families)."""
    tasks_dir = Path(tasks_dir)
    from harness.extract import FAMILIES

    for t in all_tasks(tasks_dir).values():
        if t.family not in FAMILIES:
            raise UserError(f"{t.path}: field 'metadata.family': unknown answer family {t.family!r} "
                            f"(known: {', '.join(FAMILIES)})")


@lru_cache(maxsize=8)
def suite_module(suite: str, tasks_dir: str | Path = TASKS_DIR) -> ModuleType:
    """`tasks/<suite>/utils.py`, the helper module the suite's YAML names: its
    TARGET_FIELD and `doc_options` are the suite's target field and option letters."""
    path = Path(tasks_dir) / suite / "utils.py"
    # The name lm-eval's YAML loader gives it, so both share one module object.
    name = str(path.with_suffix(""))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or not path.is_file():
        raise UserError(f"{path}: the suite's helper module is missing")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    for attr in ("TARGET_FIELD", "doc_options"):
        if not hasattr(module, attr):
            raise UserError(f"{path}: missing {attr}")
    return module
