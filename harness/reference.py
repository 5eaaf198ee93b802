"""Published reference numbers (results/reference/*.json): loader and registry.

A reference set is one JSON file in `results/reference/`; adding a set (another paper,
a model card) means adding one file, nothing else. The file name without `.json` is the
set's name (`--reference orca-paper`). Format (`"format": "orca-eval-reference/1"`):

    {"name", "title", "citation": {"paper", "url"?}, "setting"?, "check_legend"?,
     "suites": {SUITE: {"table", "title", "note"?, "cells_check"?, "excluded_tasks"?,
                        "tasks": [{"key": "agieval/aqua-rat", "label", "examples"?}],
                        "models": [{"name", "kind": "model"|"human", "note"?, "check"?,
                                    "scores": {TASK: percent}, "cell_checks"?: {TASK: reason},
                                    "average": {"published": [percent, ...], "check"?}}]}}}

"check" fields (string = the reason) mark a figure whose source could not be confirmed
twice: `cells_check` covers every per-task cell of a suite, a model's `check` its whole
column, `cell_checks` single cells, `average.check` the published average. A model with
empty `scores` is a suite-level-only entry (a published average without per-task numbers).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from orca.errors import UserError
from harness.display import round_half_up  # noqa: F401  (reference figures are rounded as displayed)
from harness.paths import RESULTS_DIR

REFERENCE_DIR = RESULTS_DIR / "reference"
FORMAT = "orca-eval-reference/1"
DEFAULT_REFERENCE = "orca-paper"
BASELINE_MODEL = "ChatGPT"  # the paper's "relative to ChatGPT" denominator


@dataclass
class ReferenceModel:
    """One published column of one suite."""

    name: str
    kind: str  # "model" or "human"
    scores: dict[str, float]
    published_average: list[float]
    average_check: str | None = None
    check: str | None = None
    cell_checks: dict[str, str] = field(default_factory=dict)
    note: str | None = None

    @property
    def suite_only(self) -> bool:
        return not self.scores

    def average(self, tasks: list[str] | None = None) -> float | None:
        """Macro average over `tasks` (default: all its cells), unrounded; None if any is missing."""
        keys = list(self.scores) if tasks is None else list(tasks)
        if not keys or any(t not in self.scores for t in keys):
            return None
        return sum(self.scores[t] for t in keys) / len(keys)


@dataclass
class ReferenceSuite:
    """One published table (e.g. AGIEval, Table 8)."""

    suite: str
    table: str
    title: str
    tasks: list[str]
    labels: dict[str, str]
    examples: dict[str, int]
    models: list[ReferenceModel]
    note: str | None = None
    cells_check: str | None = None
    excluded_tasks: list[str] = field(default_factory=list)

    def model(self, name: str) -> ReferenceModel | None:
        return next((m for m in self.models if m.name == name), None)

    def cell_check(self, model: ReferenceModel, task: str) -> str | None:
        """The reason a cell carries a check mark, from the cell, its column or its suite."""
        return model.cell_checks.get(task) or model.check or self.cells_check


@dataclass
class ReferenceSet:
    """A loaded reference file."""

    name: str
    title: str
    citation: str
    url: str | None
    path: Path
    suites: dict[str, ReferenceSuite]
    setting: str | None = None


def reference_dir(explicit: str | Path | None = None) -> Path:
    return Path(explicit) if explicit else REFERENCE_DIR


def available_references(ref_dir: str | Path | None = None) -> list[str]:
    """Names of the reference sets in `ref_dir` (file stems, sorted)."""
    d = reference_dir(ref_dir)
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


def load_reference(name_or_path: str | Path, ref_dir: str | Path | None = None) -> ReferenceSet:
    """Load a reference set by name (`orca-paper`) or by path to its JSON file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".json" and candidate.exists():
        path = candidate
    else:
        path = reference_dir(ref_dir) / f"{name_or_path}.json"
        if not path.exists():
            known = ", ".join(available_references(ref_dir)) or "none"
            raise UserError(f"unknown reference set {str(name_or_path)!r} (known: {known}; "
                            f"a set is a JSON file in {reference_dir(ref_dir)})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    return _parse(raw, path)


def load_references(names: list[str], ref_dir: str | Path | None = None) -> list[ReferenceSet]:
    """Load several sets; `all` expands to every set, `none` to no set."""
    out: list[str] = []
    for n in names:
        if n == "none":
            continue
        out.extend(available_references(ref_dir) if n == "all" else [n])
    # orca-paper first when present: its task sets define the comparison rows.
    out = sorted(dict.fromkeys(out), key=lambda n: (n != DEFAULT_REFERENCE, out.index(n)))
    return [load_reference(n, ref_dir) for n in out]


def _need(obj: dict, key: str, where: str, kind: type | tuple[type, ...]):
    if not isinstance(obj, dict) or key not in obj:
        raise UserError(f"{where}: missing field {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise UserError(f"{where}.{key}: expected {names}, got {type(value).__name__}")
    return value


def _percent(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= 100:
        raise UserError(f"{where}: expected a percentage in [0, 100], got {value!r}")
    return float(value)


def _optional_str(obj: dict, key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and not (isinstance(value, str) and value.strip()):
        raise UserError(f"{where}.{key}: expected a non-empty string (the reason), got {value!r}")
    return value


def _parse(raw: dict, path: Path) -> ReferenceSet:
    where = str(path)
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a JSON object")
    if raw.get("format") != FORMAT:
        raise UserError(f"{where}: field 'format' must be {FORMAT!r}, got {raw.get('format')!r}")
    citation = _need(raw, "citation", where, dict)
    suites: dict[str, ReferenceSuite] = {}
    for suite, s in _need(raw, "suites", where, dict).items():
        sw = f"{where}: suites.{suite}"
        tasks, labels, examples = [], {}, {}
        for i, t in enumerate(_need(s, "tasks", sw, list)):
            tw = f"{sw}.tasks[{i}]"
            key = _need(t, "key", tw, str)
            if not key.startswith(suite + "/"):
                raise UserError(f"{tw}.key: task {key!r} is not in suite {suite!r} (keys look like '{suite}/NAME')")
            if key in labels:
                raise UserError(f"{tw}.key: duplicate task {key!r}")
            tasks.append(key)
            labels[key] = t.get("label") or key.split("/", 1)[1]
            if "examples" in t:
                examples[key] = _need(t, "examples", tw, int)
        models = []
        for j, m in enumerate(_need(s, "models", sw, list)):
            mw = f"{sw}.models[{j}]"
            name = _need(m, "name", mw, str)
            mw = f"{sw}.models[{name}]"
            kind = m.get("kind", "model")
            if kind not in ("model", "human"):
                raise UserError(f"{mw}.kind: expected 'model' or 'human', got {kind!r}")
            scores = {}
            for task, v in _need(m, "scores", mw, dict).items():
                if task not in labels:
                    raise UserError(f"{mw}.scores: task {task!r} is not listed in suites.{suite}.tasks")
                scores[task] = _percent(v, f"{mw}.scores[{task}]")
            if scores and set(scores) != set(tasks):
                missing = sorted(set(tasks) - set(scores))
                raise UserError(f"{mw}.scores: missing task {missing[0]!r} (give every task or none)")
            avg = _need(m, "average", mw, dict)
            published = avg.get("published")
            if not isinstance(published, list) or not published:
                raise UserError(f"{mw}.average.published: expected a non-empty list of percentages")
            cell_checks = m.get("cell_checks") or {}
            for task in cell_checks:
                if task not in scores:
                    raise UserError(f"{mw}.cell_checks: no cell {task!r}")
                _optional_str(cell_checks, task, f"{mw}.cell_checks")
            models.append(ReferenceModel(
                name=name, kind=kind, scores=scores,
                published_average=[_percent(v, f"{mw}.average.published") for v in published],
                average_check=_optional_str(avg, "check", f"{mw}.average"),
                check=_optional_str(m, "check", mw), cell_checks=dict(cell_checks), note=m.get("note")))
            if len(published) > 1 and not models[-1].average_check:
                raise UserError(f"{mw}.average: several published values need a 'check' reason")
        suites[suite] = ReferenceSuite(
            suite=suite, table=_need(s, "table", sw, str), title=s.get("title") or suite,
            tasks=tasks, labels=labels, examples=examples, models=models, note=s.get("note"),
            cells_check=_optional_str(s, "cells_check", sw), excluded_tasks=list(s.get("excluded_tasks", [])))
    return ReferenceSet(name=raw.get("name") or path.stem, title=raw.get("title") or path.stem,
                        citation=_need(citation, "paper", f"{where}: citation", str), url=citation.get("url"),
                        path=path, suites=suites, setting=raw.get("setting"))


def average_consistency(model: ReferenceModel, tasks: list[str]) -> dict:
    """How a published average relates to the mean of its per-task cells.

    `matches` lists the published values equal to the cells' mean rounded to one decimal
    (the paper's precision). An average without a check mark must match; one with a
    check mark is expected to be off by at most 0.1 (a known, bounded discrepancy)."""
    computed = model.average(tasks)
    if computed is None:
        return {"computed": None, "matches": [], "max_gap": None}
    printed = round_half_up(computed, 1)
    return {
        "computed": computed,
        "printed": printed,
        "matches": [p for p in model.published_average if abs(p - printed) < 1e-6],
        "max_gap": max(abs(p - computed) for p in model.published_average),
        "min_gap": min(abs(p - computed) for p in model.published_average),
    }
