"""tasks/ read as data: each suite's task order, each task's answer family, stop sequences
and generation budget (the lm-eval YAML). What the YAML cannot say (data-file layout, target
field, options, prompts) is the suite's module in this package (harness/suites/<suite>.py).

Layout read here (and by lm-eval's TaskManager, the same files):
- `tasks/<suite>/_<suite>.yaml`: the lm-eval group `orca_<suite>`; its `task:` list is the
  suite's task order.
- `tasks/<suite>/<name>.yaml`: one task; `dataset_kwargs.task` is our key (`bbh/navigate`),
  `metadata.family` the answer family (harness/extract/ FAMILIES), `generation_kwargs.until`
  the stop sequences, `generation_kwargs.max_gen_toks` the default generation budget. Keys
  missing in the task file come from the template it `include:`s.

Why not lm-eval's own YAML loader: importing `lm_eval.tasks` takes ~3 s (datasets, the
task index) and this is read on every `import harness.data`; the format is plain YAML plus
`include:` (a shallow merge, local keys win) and `!function` tags, which we only need by name.
lm-eval also skips a YAML it cannot load without a word; here a broken file is one line, exit 2.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

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
    max_gen_toks: int        # the default generation budget (tokens per answer)
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


def read_suite(suite_dir: str | Path) -> list[TaskDef]:
    """The tasks of `tasks/<suite>/`, in its group file's order."""
    suite_dir = Path(suite_dir)
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
        budget = _field(cfg, "generation_kwargs.max_gen_toks", path, int)
        if isinstance(budget, bool) or budget < 1:
            raise UserError(f"{path}: field 'generation_kwargs.max_gen_toks' must be a positive integer "
                            f"(got {budget!r})")
        out.append(TaskDef(key, name, suite, _field(cfg, "metadata.family", path, str), tuple(until), budget, path))
    return out


def suite_names(tasks_dir: str | Path = TASKS_DIR) -> list[str]:
    """The suites of a tasks folder: each `tasks/<suite>/` with its `_<suite>.yaml`."""
    names = [d.name for d in sorted(Path(tasks_dir).iterdir()) if d.is_dir() and (d / f"_{d.name}.yaml").is_file()]
    if not names:
        raise UserError(f"{tasks_dir}: no suite (tasks/<suite>/_<suite>.yaml)")
    return names


@lru_cache(maxsize=4)
def load_suites(tasks_dir: str | Path = TASKS_DIR) -> dict[str, list[TaskDef]]:
    """suite -> its tasks in the group's order, for every `tasks/<suite>/_<suite>.yaml`."""
    return {name: read_suite(Path(tasks_dir) / name) for name in suite_names(tasks_dir)}
