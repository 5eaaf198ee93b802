"""Building a report: find and load run directories, and line the runs up against reference
sets in one `SuiteTable` per suite (harness.report.model), with each suite's notes."""
from __future__ import annotations

import json
import re
from pathlib import Path

from orca.errors import UserError
from harness.reference import ReferenceSet
from harness.report.cells import fmt, published_text
from harness.report.model import (CHECK_MARK, Column, Report, SuiteTable, suite_sort_key, suite_title,
                                  partial_coverage)
from harness.results import RunResult, load_run


def resolve_run_dirs(names: list[str], runs_dir: str | Path) -> list[Path]:
    """Each RUN is a directory path, or a run name under `runs_dir`."""
    out = []
    for name in names:
        p = Path(name)
        if not p.is_dir() and (Path(runs_dir) / name).is_dir():
            p = Path(runs_dir) / name
        if not p.is_dir():
            raise UserError(f"{name}: is a file, not a run directory" if p.exists() else
                            f"{name}: run directory not found (nor {Path(runs_dir) / name})")
        out.append(p)
    return out


def all_run_dirs(runs_dir: str | Path) -> list[Path]:
    """Every finished run (a folder with summary.json) under `runs_dir`, sorted by name."""
    d = Path(runs_dir)
    if not d.is_dir():
        raise UserError(f"{d}: is a file, not a runs directory" if d.exists() else f"{d}: runs directory not found")
    return finished_only(sorted(p.parent for p in d.glob("*/summary.json")))


def finished_only(dirs: list[str | Path]) -> list[Path]:
    """Leave out, with one note each, runs whose run.json says they are unfinished (killed
    after a resume: their summary.json is stale); a damaged run.json is left to load_run."""
    import sys

    from harness.results import is_unfinished

    keep = []
    for d in map(Path, dirs):
        try:
            meta = json.loads((d / "run.json").read_bytes())
        except (OSError, ValueError):
            meta = None
        if isinstance(meta, dict) and is_unfinished(meta):
            print(f"orca-eval: note: {d}: unfinished (run.json has no finish time; its summary.json is from an "
                  "earlier attempt): left out", file=sys.stderr)
            continue
        keep.append(d)
    return keep


def load_runs(dirs: list[str | Path]) -> list[RunResult]:
    """Read run directories without their samples (reports need the summaries only)."""
    return [load_run(d, with_samples=False) for d in dirs]


# `orca-eval run` without --name calls a run MODEL-SUITE-MODE-HASH (harness.run_config.default_run_name):
# unique, but as a column header `gguf-b179c9523d0e6a0f-bbh_navigate+sports_understanding-generate-a4a44b`.
_AUTO_NAME = re.compile(r".+-(generate|loglikelihood)-([0-9a-f]{6})")
_MODE_SHORT = {"generate": "gen", "loglikelihood": "ll"}
MAX_MODEL_CHARS = 24


def model_short_name(meta: dict) -> str:
    """The model as a person would name it: its named_model name, else the last part of its spec."""
    model = meta.get("model") or {}
    name = (model.get("named_model") or {}).get("name")
    if not name:
        spec = str(model.get("spec") or model.get("path") or "model")
        name = Path(spec.split(":", 1)[-1].rstrip("/")).name or spec
        name = name.removesuffix(".gguf")
    return name if len(name) <= MAX_MODEL_CHARS else name[: MAX_MODEL_CHARS - 1] + "…"


def _scope(meta: dict) -> str:
    """What a run covers, briefly: a whole suite ("bbh"), one task ("navigate"), or "bbh 2 tasks"."""
    from harness.data import SUITES

    tasks = [t for t in meta.get("tasks") or [] if isinstance(t, str)]
    suites = sorted({t.split("/", 1)[0] for t in tasks})
    if not tasks:
        return str(meta.get("suite") or "")
    if all(set(SUITES.get(x, [])) <= set(tasks) for x in suites):
        return "+".join(suites)
    if len(tasks) == 1:
        return tasks[0].split("/", 1)[-1]
    return f"{'+'.join(suites)} {len(tasks)} tasks"


def _auto_label(run: RunResult, level: int) -> str:
    """An auto-named run's display name, more specific with each level until it is unique."""
    meta = run.meta
    parts = [model_short_name(meta), _MODE_SHORT.get(meta.get("mode"), str(meta.get("mode") or ""))]
    if level >= 1:
        parts.append(_scope(meta))
    if level >= 2 and meta.get("limit"):
        parts.append(f"limit{meta['limit']}")
    if level >= 3:
        m = _AUTO_NAME.fullmatch(run.name)
        parts.append(m.group(2) if m else run.path.name)
    if level >= 4:  # copies of one run: where each lies
        parts.append(f"[{run.path.parent.name}]")
    return " ".join(p for p in parts if p)


def run_labels(runs: list[RunResult]) -> dict[int, str]:
    """Run index -> short, unique display name (column headers, ranking rows, plots).

    A name the user gave (`run --name`) is kept. An automatic name is replaced by model,
    mode (gen / ll) and, only as far as needed to tell runs apart, what it covers, its
    --limit and its hash. Runs sharing a name get their directory added. The full name
    stays available: `full_names`."""
    auto = {i for i, r in enumerate(runs) if _AUTO_NAME.fullmatch(r.name)}
    level = {i: 0 for i in auto}
    labels: dict[int, str] = {}
    for _ in range(6):
        labels = {i: (_auto_label(r, level[i]) if i in auto else r.name) for i, r in enumerate(runs)}
        clash = [i for i in labels if list(labels.values()).count(labels[i]) > 1]
        if not clash:
            return labels
        if not any(i in auto and level[i] < 4 for i in clash):
            break
        for i in clash:
            if i in auto and level[i] < 4:
                level[i] += 1
    # same names left (two copies of one run, or given names that clash): add the directory
    return {i: (labels[i] if list(labels.values()).count(labels[i]) == 1 else f"{labels[i]} [{r.path.name}]"
                if r.path.name != labels[i] else f"{labels[i]} [{r.path.parent.name}/{r.path.name}]")
            for i, r in enumerate(runs)}


def full_names(runs: list[RunResult]) -> dict[int, str]:
    """Run index -> its own name and directory (tooltips and legends)."""
    return {i: f"{r.name} ({r.path})" for i, r in enumerate(runs)}


def _variant_tasks(run: RunResult, variant: str) -> dict[str, dict]:
    tasks = run.summary["variants"][variant].get("tasks")
    if not isinstance(tasks, dict):
        raise UserError(f"{run.path / 'summary.json'}: variants.{variant}: missing field 'tasks'")
    for task, t in tasks.items():
        for key in ("accuracy", "n"):
            if not isinstance(t.get(key), (int, float)) or isinstance(t.get(key), bool):
                raise UserError(f"{run.path / 'summary.json'}: variants.{variant}.tasks.{task}: missing field {key!r}")
    return tasks


def _run_columns(run: RunResult, label: str, index: int, full_name: str) -> list[Column]:
    cols = []
    partial = run.is_partial()
    for variant in run.variants:
        tasks = _variant_tasks(run, variant)
        col = Column(key=f"run{index}:{variant}", label=f"{label} {variant}", kind="run", source=label,
                     variant=variant, partial=partial, run=run, full_name=full_name)
        for task, t in tasks.items():
            col.scores[task] = float(t["accuracy"])
            col.official[task] = float(t.get("accuracy_official", t["accuracy"]))
            n = int(t["n"])
            correct = t["correct"] if "repeats" not in t and "correct" in t else t["accuracy"] * n / 100
            if n > 0:
                col.counts[task] = (float(correct), n)
        cols.append(col)
    if len(cols) > 1:
        best = Column(key=f"run{index}:best", label=f"{label} best-SM", kind="run-best", source=label,
                      partial=partial, run=run, full_name=full_name)
        for task in sorted({t for c in cols for t in c.scores}):
            # the first variant wins ties, so the choice is reproducible
            winner = max((c for c in cols if task in c.scores), key=lambda c: c.scores[task])
            best.scores[task] = winner.scores[task]
            best.official[task] = winner.official[task]
            best.chosen[task] = winner.variant
        cols.append(best)
    return cols


def _partial_note(run: RunResult, label: str) -> str:
    n = n_total = 0
    first = run.variants[0] if run.variants else None
    for t in (run.summary["variants"][first]["tasks"].values() if first else []):
        n += int(t.get("n", 0))
        n_total += int(t.get("n_total", t.get("n", 0)))
    limit = run.meta.get("limit")
    size = f"{n} of {n_total} examples" if n_total else f"{n} examples"
    return (f"{label}: partial run (--limit {limit}): {size} per variant; "
            "not comparable with full-test-set figures.") if limit else \
        f"{label}: partial run: {size} per variant; not comparable with full-test-set figures."


def build_comparison(runs: list[RunResult], references: list[ReferenceSet], with_ablation: bool = True) -> Report:
    """Line runs up against reference sets, one `SuiteTable` per suite either side has;
    with `with_ablation`, per run with several system-message variants its paired
    ablation against sm1 (harness.report.ablation; reads the run's samples).

    The first reference set with per-task numbers for a suite defines that suite's task
    set for averages; further sets add columns (tasks they share) or suite-only entries."""
    labels, full = run_labels(runs), full_names(runs)
    run_cols = [(i, _run_columns(r, labels[i], i, full[i])) for i, r in enumerate(runs)]
    suites = set()
    for ref in references:
        suites.update(ref.suites)
    for _, cols in run_cols:
        for c in cols:
            suites.update(t.split("/", 1)[0] for t in c.scores)

    out = []
    for suite in sorted(suites, key=suite_sort_key):
        primary = next((r for r in references if suite in r.suites and r.suites[suite].tasks), None)
        ref_suite = primary.suites[suite] if primary else None
        run_tasks = sorted({t for _, cols in run_cols for c in cols for t in c.scores if t.startswith(suite + "/")})
        if ref_suite:
            reference_tasks = list(ref_suite.tasks)
        else:
            reference_tasks = run_tasks
        tasks = reference_tasks + [t for t in run_tasks if t not in reference_tasks]
        comp = SuiteTable(
            suite=suite, title=suite_title(suite), reference_tasks=reference_tasks, tasks=tasks,
            labels={t: t.split("/", 1)[1] for t in tasks}, columns=[])
        if ref_suite:
            comp.labels.update(ref_suite.labels)
            comp.reference_name, comp.table, comp.citation = primary.name, ref_suite.table, primary.citation
            comp.cells_check = ref_suite.cells_check
            comp.title = f"{ref_suite.title} ({primary.title.split(':')[0]}, {ref_suite.table})"
        for ref in references:
            rs = ref.suites.get(suite)
            if rs is None:
                continue
            for m in rs.models:
                if m.suite_only:
                    comp.suite_only.append((ref.name, m))
                    continue
                col = Column(key=f"ref:{ref.name}:{m.name}", label=m.name,
                             kind="human" if m.kind == "human" else "reference", source=ref.name,
                             scores={t: v for t, v in m.scores.items() if t in comp.labels},
                             check=m.check or (rs.cells_check if ref is not primary else None),
                             cell_checks=dict(m.cell_checks), published=list(m.published_average),
                             published_check=m.average_check, note=m.note, approximate_counts=True)
                for t, v in col.scores.items():
                    if t in rs.examples:
                        col.counts[t] = (v * rs.examples[t] / 100, rs.examples[t])
                if ref is not primary and not set(col.scores) & set(reference_tasks):
                    comp.suite_only.append((ref.name, m))
                    continue
                comp.columns.append(col)
        for _, cols in run_cols:
            comp.columns.extend(c for c in cols if any(t.startswith(suite + "/") for t in c.scores))
        comp.notes = _suite_notes(comp, ref_suite, runs, labels)
        out.append(comp)

    notes = [_partial_note(r, labels[i]) for i, r in enumerate(runs) if r.is_partial()]
    renamed = [(labels[i], full[i]) for i, r in enumerate(runs) if labels[i] != r.name]
    ablations = []
    if with_ablation:
        from harness.report.ablation import run_ablations

        for i, r in enumerate(runs):
            ablations.extend(run_ablations(r, labels[i]))
    return Report(runs=runs, references=references, suites=out, notes=notes, ablations=ablations, renamed=renamed)


def check_shared_tasks(runs: list[RunResult]) -> None:
    """Refuse runs of which no two have a task in common: there is nothing to put side by
    side, and every table and chart would be the runs' disjoint pieces (one line, exit 2)."""
    if len(runs) < 2:
        return
    labels = run_labels(runs)
    tasks = [{t for v in r.variants for t in r.summary["variants"][v].get("tasks", {})} for r in runs]
    if any(tasks[i] & tasks[j] for i in range(len(runs)) for j in range(i + 1, len(runs))):
        return
    have = "; ".join(f"{labels[i]}: {', '.join(sorted(t)[:3])}{' ...' if len(t) > 3 else ''}"
                     for i, t in enumerate(tasks))
    raise UserError(f"the {len(runs)} runs share no tasks ({have}): nothing to compare; "
                    "report them one at a time, or add a run that has tasks of each")


def _suite_notes(comp: SuiteTable, ref_suite, runs, labels) -> list[str]:
    notes = []
    name = suite_title(comp.suite)
    k = len(comp.reference_tasks)
    run_cols = [c for c in comp.columns if c.kind == "run"]
    if ref_suite:
        if comp.cells_check:
            notes.append(f"{CHECK_MARK} {comp.reference_name} {ref_suite.table}: {comp.cells_check}")
        for c in comp.columns:
            if c.published_check:
                notes.append(f"{CHECK_MARK} {c.label} published average: {c.published_check}")
            for t, why in c.cell_checks.items():
                notes.append(f"{CHECK_MARK} {c.label} {t}: {why}")
        extra = [t for t in comp.tasks if t not in comp.reference_tasks]
        if extra and run_cols:
            notes.append(
                f"{name}: the reference averages ({ref_suite.table}) are over {k} tasks; the 'average' row "
                f"computes every column over those same {k} tasks. Tasks the reference does not report "
                f"({len(extra)}: {', '.join(comp.labels[t] for t in extra)}) are shown but only enter the "
                f"'run average, all tasks' row.")
        if ref_suite.note:
            notes.append(f"{name}: {ref_suite.note}")
    elif run_cols:
        notes.append(f"{name}: no reference numbers for this suite.")
    seen = set()
    for c in run_cols:
        if c.source in seen:
            continue
        seen.add(c.source)
        missing = [t for t in comp.reference_tasks if t not in c.scores]
        if missing and ref_suite:
            notes.append(f"{c.source}: lacks {len(missing)} of the {k} reference tasks "
                         f"({', '.join(comp.labels[t] for t in missing)}); its averages marked * cover "
                         f"only the tasks it has and are not ranked.")
    for e in partial_coverage(comp):
        if not e.tasks:
            continue
        same = ", ".join(f"{name} {fmt(v)}" for name, v in e.references)
        notes.append(f"{e.column.label}: covers {len(e.tasks)} of {k} tasks; on those {len(e.tasks)}: "
                     f"{fmt(e.average)}" + (f" against {same}" if same else "") + ".")
    if any(c.kind == "run-best" for c in comp.columns):
        notes.append("best-SM: per task the run's best system-message variant (the paper's Table 9 view); "
                     "chosen on the test data, so optimistic, and given no interval.")
    if run_cols:
        notes.append("Run cells: robust-extractor accuracy (official-extractor accuracy in parentheses).")
    if comp.suite_only:
        items = "; ".join(f"{m.name} {published_text(m.published_average, m.average_check)} ({src})"
                          for src, m in comp.suite_only)
        notes.append(f"Other published {name} averages, per-task numbers and task set not given: {items}.")
    return notes
