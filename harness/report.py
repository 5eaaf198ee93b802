"""Comparison tables of runs against published reference numbers.

`build_comparison(runs, references)` lines runs up with reference sets per suite; the
renderers (`render_markdown`, `render_text`/`rich_tables`, `render_html`) only format it.

Conventions (see docs/reports.md):
- rows are tasks; columns are reference models, then per run one column per
  system-message variant and, with several variants, a "best-SM" column (per task the
  best variant, the paper's Table 9 view; chosen on the test data, so optimistic).
- run cells read `robust (official)`: the robust extractor's accuracy, then the
  official (first-capital-letter / exact) extractor's in parentheses.
- the like-for-like average row uses the reference's task set for every column
  (BBH: the paper's 23 tasks, though our suite has 27); a run's own suite average over
  all of its tasks is a separate row.
- macro-average intervals: each task an independent binomial, Var(mean) = sum Var_k / K^2
  with per-task variances from Agresti-Coull adjusted proportions; mean +- 1.96 sd
  (see `macro_interval`).
"""
from __future__ import annotations

import html
import io
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from orca.errors import UserError
from harness.reference import BASELINE_MODEL, ReferenceModel, ReferenceSet, round_half_up
from harness.results import RunResult, load_run

Z95 = 1.959963984540054
SUITE_ORDER = {"agieval": 0, "bbh": 1}
SUITE_NAMES = {"agieval": "AGIEval", "bbh": "BBH"}
CHECK_MARK = "†"
DASH = "—"


@dataclass
class Column:
    """One column of a suite table: a reference model, a run variant or a run's best-SM."""

    key: str
    label: str
    kind: str  # "reference" | "human" | "run" | "run-best"
    source: str  # reference set name or run name
    variant: str | None = None
    scores: dict[str, float] = field(default_factory=dict)  # task -> robust accuracy (%)
    official: dict[str, float] = field(default_factory=dict)  # task -> official-extractor accuracy (%)
    counts: dict[str, tuple[float, int]] = field(default_factory=dict)  # task -> (correct, n)
    approximate_counts: bool = False  # reference n = public test-set size, not printed by the paper
    partial: bool = False
    chosen: dict[str, str] = field(default_factory=dict)  # best-SM: task -> variant
    check: str | None = None
    cell_checks: dict[str, str] = field(default_factory=dict)
    published: list[float] = field(default_factory=list)
    published_check: str | None = None
    note: str | None = None
    run: RunResult | None = None

    @property
    def is_run(self) -> bool:
        return self.kind in ("run", "run-best")

    @property
    def competes(self) -> bool:
        """Takes part in "best per row" (people and suite-only entries do not)."""
        return self.kind in ("reference", "run", "run-best")


@dataclass
class SuiteComparison:
    """One suite's table: which tasks, which columns, and the figures derived from them."""

    suite: str
    title: str
    reference_tasks: list[str]  # the task set averages are compared over
    tasks: list[str]  # rows: reference tasks, then tasks only runs have
    labels: dict[str, str]
    columns: list[Column]
    reference_name: str | None = None
    table: str | None = None
    citation: str | None = None
    cells_check: str | None = None
    suite_only: list[tuple[str, ReferenceModel]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def value(self, col: Column, task: str) -> float | None:
        return col.scores.get(task)

    def average(self, col: Column, official: bool = False) -> tuple[float | None, int]:
        """Macro average over the reference task set (of the tasks the column has) and how many it has."""
        source = col.official if official else col.scores
        have = [t for t in self.reference_tasks if t in source]
        if not have:
            return None, 0
        return sum(source[t] for t in have) / len(have), len(have)

    def own_average(self, col: Column, official: bool = False) -> tuple[float | None, int]:
        """Macro average over every task of this suite the column has (a run's suite average)."""
        source = col.official if official else col.scores
        have = [t for t in self.tasks if t in source]
        if not have:
            return None, 0
        return sum(source[t] for t in have) / len(have), len(have)

    def complete(self, col: Column) -> bool:
        return all(t in col.scores for t in self.reference_tasks)

    def baseline(self) -> Column | None:
        return next((c for c in self.columns if c.kind == "reference" and c.label == BASELINE_MODEL), None)

    def relative(self, col: Column) -> float | None:
        """Column average as a percentage of ChatGPT's, both over the reference task set."""
        base = self.baseline()
        if base is None or not self.complete(col):
            return None
        mine, _ = self.average(col)
        theirs, _ = self.average(base)
        return None if mine is None or not theirs else 100 * mine / theirs

    def best_keys(self, task: str | None) -> set[str]:
        """Columns holding the highest value in a row (`None` = the average row); ties all win."""
        values = {}
        for c in self.columns:
            if not c.competes:
                continue
            if task is None:
                v, _ = self.average(c)
                if not self.complete(c):
                    continue
            else:
                v = c.scores.get(task)
            if v is not None:
                values[c.key] = round(v, 1)  # as displayed: equal-looking numbers tie
        if len(values) < 2:  # a lone value is not "best" of anything
            return set()
        top = max(values.values())
        return {k for k, v in values.items() if v == top}

    def interval(self, col: Column) -> tuple[float, float] | None:
        """95% interval of the like-for-like macro average (None for best-SM and suite-only)."""
        if col.kind == "run-best" or not self.complete(col):
            return None
        counts = [col.counts.get(t) for t in self.reference_tasks]
        if any(c is None for c in counts):
            return None
        return macro_interval(counts)


@dataclass
class Comparison:
    runs: list[RunResult]
    references: list[ReferenceSet]
    suites: list[SuiteComparison]
    notes: list[str]


def macro_interval(counts: list[tuple[float, int]], z: float = Z95) -> tuple[float, float]:
    """95% interval (percent) for the unweighted mean of K task accuracies.

    Tasks are independent binomials, so Var(mean) = sum_k Var(p_k) / K^2, with
    Var(p_k) = p~(1 - p~) / n and p~ = (c + z^2/2) / (n + z^2) the Agresti-Coull adjusted
    proportion: it stays positive at 0 % or 100 % (where p(1-p)/n would claim certainty).
    (Dividing by n + z^2 instead, as the one-proportion Agresti-Coull interval does around
    p~, under-covers around the plain mean with small n: 90 % at 23 tasks x 10 examples.)
    The point estimate stays the plain macro mean. Averaging the per-task intervals instead
    would be far too wide: errors partly cancel in a mean."""
    k = len(counts)
    if k == 0:
        raise ValueError("no tasks")
    var = 0.0
    for correct, n in counts:
        if n <= 0:
            raise ValueError("task with no examples")
        p_adj = (correct + z * z / 2) / (n + z * z)
        var += p_adj * (1 - p_adj) / n
    mean = sum(c / n for c, n in counts) / k
    half = z * math.sqrt(var) / k
    return 100 * max(0.0, mean - half), 100 * min(1.0, mean + half)


# --------------------------------------------------------------------------- building

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
    return sorted(p.parent for p in d.glob("*/summary.json"))


def load_runs(dirs: list[Path]) -> list[RunResult]:
    """Read run directories without their samples (reports need the summaries only)."""
    return [load_run(d, with_samples=False) for d in dirs]


def _run_labels(runs: list[RunResult]) -> dict[int, str]:
    names = [r.name for r in runs]
    return {i: (r.name if names.count(r.name) == 1 else f"{r.name} [{r.path.name}]") for i, r in enumerate(runs)}


def _variant_tasks(run: RunResult, variant: str) -> dict[str, dict]:
    tasks = run.summary["variants"][variant].get("tasks")
    if not isinstance(tasks, dict):
        raise UserError(f"{run.path / 'summary.json'}: variants.{variant}: missing field 'tasks'")
    for task, t in tasks.items():
        for key in ("accuracy", "n"):
            if not isinstance(t.get(key), (int, float)) or isinstance(t.get(key), bool):
                raise UserError(f"{run.path / 'summary.json'}: variants.{variant}.tasks.{task}: missing field {key!r}")
    return tasks


def _run_columns(run: RunResult, label: str, index: int) -> list[Column]:
    cols = []
    partial = run.is_partial()
    for variant in run.variants:
        tasks = _variant_tasks(run, variant)
        col = Column(key=f"run{index}:{variant}", label=f"{label} {variant}", kind="run", source=label,
                     variant=variant, partial=partial, run=run)
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
                      partial=partial, run=run)
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


def build_comparison(runs: list[RunResult], references: list[ReferenceSet]) -> Comparison:
    """Line runs up against reference sets, one `SuiteComparison` per suite either side has.

    The first reference set with per-task numbers for a suite defines that suite's task
    set for averages; further sets add columns (tasks they share) or suite-only entries."""
    labels = _run_labels(runs)
    run_cols = [(i, _run_columns(r, labels[i], i)) for i, r in enumerate(runs)]
    suites = set()
    for ref in references:
        suites.update(ref.suites)
    for _, cols in run_cols:
        for c in cols:
            suites.update(t.split("/", 1)[0] for t in c.scores)

    out = []
    for suite in sorted(suites, key=lambda s: (SUITE_ORDER.get(s, 99), s)):
        primary = next((r for r in references if suite in r.suites and r.suites[suite].tasks), None)
        ref_suite = primary.suites[suite] if primary else None
        run_tasks = sorted({t for _, cols in run_cols for c in cols for t in c.scores if t.startswith(suite + "/")})
        if ref_suite:
            reference_tasks = list(ref_suite.tasks)
        else:
            reference_tasks = run_tasks
        tasks = reference_tasks + [t for t in run_tasks if t not in reference_tasks]
        comp = SuiteComparison(
            suite=suite, title=SUITE_NAMES.get(suite, suite), reference_tasks=reference_tasks, tasks=tasks,
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
    return Comparison(runs=runs, references=references, suites=out, notes=notes)


def _suite_notes(comp: SuiteComparison, ref_suite, runs, labels) -> list[str]:
    notes = []
    name = SUITE_NAMES.get(comp.suite, comp.suite)
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
    if any(c.kind == "run-best" for c in comp.columns):
        notes.append("best-SM: per task the run's best system-message variant (the paper's Table 9 view); "
                     "chosen on the test data, so optimistic, and given no interval.")
    if run_cols:
        notes.append("Run cells: robust-extractor accuracy (official-extractor accuracy in parentheses).")
    if comp.suite_only:
        items = "; ".join(f"{m.name} {_published(m.published_average, m.average_check)} ({src})"
                          for src, m in comp.suite_only)
        notes.append(f"Other published {name} averages, per-task numbers and task set not given: {items}.")
    return notes


# --------------------------------------------------------------------------- cell text

def fmt(value: float | None, digits: int = 1) -> str:
    return DASH if value is None else f"{round_half_up(value, digits):.{digits}f}"


def _published(values: list[float], check: str | None) -> str:
    text = " or ".join(f"{v:.1f}" for v in values)
    return text + (CHECK_MARK if check else "")


def cell_text(comp: SuiteComparison, col: Column, task: str) -> str:
    v = col.scores.get(task)
    if v is None:
        return DASH
    text = fmt(v)
    if col.is_run:
        text += f" ({fmt(col.official.get(task))})"
    if col.cell_checks.get(task):
        text += CHECK_MARK
    return text


def column_header(comp: SuiteComparison, col: Column) -> str:
    text = col.label
    if col.check and col.check != comp.cells_check:
        text += CHECK_MARK
    if col.partial:
        text += " (partial)"
    return text


@dataclass
class Row:
    label: str
    cells: list[str]
    best: set[str]
    kind: str  # "task" | "average" | "published" | "own" | "relative"
    task: str | None = None


def table_rows(comp: SuiteComparison) -> list[Row]:
    """The rows every renderer prints, as text, plus which columns are best in each."""
    rows = []
    for t in comp.tasks:
        label = comp.labels[t] + ("" if t in comp.reference_tasks or not comp.reference_name else " (no ref.)")
        rows.append(Row(label, [cell_text(comp, c, t) for c in comp.columns], comp.best_keys(t), "task", t))
    k = len(comp.reference_tasks)
    avg_cells = []
    for c in comp.columns:
        v, covered = comp.average(c)
        text = fmt(v)
        if c.is_run and v is not None:
            text += f" ({fmt(comp.average(c, official=True)[0])})"
        if v is not None and covered < k:
            text += "*"
        avg_cells.append(text)
    what = f"{comp.reference_name} tasks" if comp.reference_name else "tasks"
    rows.append(Row(f"average ({k} {what})", avg_cells, comp.best_keys(None), "average"))
    if any(c.published for c in comp.columns):
        rows.append(Row("average (published)",
                        [_published(c.published, c.published_check) if c.published else "" for c in comp.columns],
                        set(), "published"))
    if len(comp.tasks) > k and any(c.is_run for c in comp.columns):
        own = []
        for c in comp.columns:
            if not c.is_run:
                own.append("")
                continue
            v, covered = comp.own_average(c)
            own.append(f"{fmt(v)} ({fmt(comp.own_average(c, official=True)[0])}) [{covered}]")
        rows.append(Row("run average, all tasks [n tasks]", own, set(), "own"))
    base = comp.baseline()
    if base is not None:
        rel = []
        for c in comp.columns:
            r = comp.relative(c) if c.kind != "human" else None
            rel.append(DASH if r is None else f"{round_half_up(r, 0):.0f} %")
        rows.append(Row(f"relative to {BASELINE_MODEL}", rel, set(), "relative"))
    return rows


# --------------------------------------------------------------------------- markdown

def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(comp: Comparison) -> str:
    """GitHub-flavoured Markdown: one table per suite, best per row in bold, notes below."""
    out = []
    for s in comp.suites:
        out.append(f"### {_md_escape(s.title)}\n")
        header = ["task"] + [column_header(s, c) for c in s.columns]
        out.append("| " + " | ".join(_md_escape(h) for h in header) + " |")
        out.append("|---|" + "---:|" * len(s.columns))
        for row in table_rows(s):
            cells = []
            for c, text in zip(s.columns, row.cells):
                text = _md_escape(text)
                cells.append(f"**{text}**" if c.key in row.best and text not in ("", DASH) else text)
            label = f"*{row.label}*" if row.kind != "task" else row.label
            out.append("| " + " | ".join([_md_escape(label)] + cells) + " |")
        out.append("")
        for n in s.notes:
            out.append(f"- {_md_escape(n)}")
        out.append("")
    for n in comp.notes:
        out.append(f"- **{_md_escape(n)}**")
    for ref in comp.references:
        out.append(f"\nReference `{ref.name}`: {ref.citation}" + (f" <{ref.url}>" if ref.url else ""))
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------- rich / text

def rich_tables(comp: Comparison) -> list:
    """rich renderables: per suite a Table (best per row bold green) and its notes."""
    from rich.text import Text

    out = []
    for s in comp.suites:
        out.append(suite_table(s))
        out.extend(Text(n, style="dim") for n in s.notes)
        out.append(Text(""))
    out.extend(_closing_notes(comp))
    return out


def suite_table(s: SuiteComparison):
    from rich.table import Table
    from rich.text import Text

    table = Table(title=s.title, title_justify="left", show_lines=False)
    table.add_column("task", no_wrap=True)
    for c in s.columns:
        style = "dim" if c.kind == "human" else ("cyan" if c.is_run else None)
        table.add_column(column_header(s, c), justify="right", header_style=style or "bold")
    for row in table_rows(s):
        if row.kind == "average":
            table.add_section()
        cells = [Text(t, style="bold green" if c.key in row.best and t not in ("", DASH) else
                      ("dim" if c.kind == "human" else ""))
                 for c, t in zip(s.columns, row.cells)]
        table.add_row(Text(row.label, style="italic" if row.kind != "task" else ""), *cells)
    return table


def _closing_notes(comp: Comparison) -> list:
    from rich.text import Text

    out = [Text(n, style="bold yellow") for n in comp.notes]
    for ref in comp.references:
        out.append(Text(f"Reference {ref.name}: {ref.citation}", style="dim"))
    return out


def suite_lines(s: SuiteComparison) -> list[str]:
    """A suite's table as a long format for narrow terminals: per row, one line per column."""
    lines = [s.title]
    for row in table_rows(s):
        lines.append(row.label)
        for c, text in zip(s.columns, row.cells):
            if text:
                lines.append(f"  {column_header(s, c)}: {text}" + (" (best)" if c.key in row.best else ""))
    return lines


def render_text(comp: Comparison, width: int = 240, color: bool = False) -> str:
    """The rich tables as plain text (or ANSI with `color`), wide enough not to truncate."""
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, color_system="standard" if color else None,
                      no_color=not color, highlight=False)
    print_tables(console, comp)
    return buf.getvalue()


def print_tables(console, comp: Comparison, fit: bool = False) -> None:
    """Print the rich tables, each at least as wide as it needs: a wide table runs past a
    narrow terminal rather than losing digits to ellipses; with `fit` (a terminal), a table
    wider than the console is printed in the long format instead (harness/terminal.py)."""
    from rich.text import Text

    from harness.terminal import fits, print_lines

    if not fit:
        for r in rich_tables(comp):
            print_wide(console, r)
        return
    for s in comp.suites:
        table = suite_table(s)
        if fits(console, table):
            console.print(table)
        else:
            print_lines(console, suite_lines(s))
        for n in s.notes:
            console.print(Text(n, style="dim"))
        console.print()
    for r in _closing_notes(comp):
        console.print(r)


def print_wide(console, renderable) -> None:
    """Print a rich Table at its natural width even past the console's (plain text as usual)."""
    from rich.table import Table

    if not isinstance(renderable, Table):
        console.print(renderable)
        return
    need = console.measure(renderable, options=console.options.update_width(10_000)).maximum
    width = console.width
    console.width = max(width, need)
    try:
        console.print(renderable)
    finally:
        console.width = width


# --------------------------------------------------------------------------- html

@dataclass
class Entry:
    """A row of the HTML leaderboard: one column of a suite comparison."""

    column: Column
    average: float | None
    covered: int
    official: float | None
    interval: tuple[float, float] | None
    relative: float | None
    rank: int | None
    examples: int | None


def leaderboard_entries(s: SuiteComparison) -> list[Entry]:
    """Columns of a suite ranked by like-for-like average; people, best-SM and incomplete runs unranked."""
    entries = []
    for c in s.columns:
        avg, covered = s.average(c)
        off = s.average(c, official=True)[0] if c.is_run else None
        examples = sum(n for t, (_, n) in c.counts.items() if t in s.reference_tasks) if c.kind == "run" else None
        entries.append(Entry(c, avg, covered, off, s.interval(c), s.relative(c) if c.kind != "human" else None,
                             None, examples))
    entries.sort(key=lambda e: (-(e.average if e.average is not None else -1), e.column.label))
    rank = 0
    for e in entries:
        # best-SM is selected on the test data, so it is shown but not ranked
        if e.column.kind in ("reference", "run") and e.average is not None and s.complete(e.column):
            rank += 1
            e.rank = rank
    return entries


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:1.5rem auto;max-width:1400px;
color:#1d2430;padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:2px solid #d8dee9}
h3{font-size:1.05rem}.meta,.note,figcaption{color:#5b6472;font-size:.85rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #d8dee9;padding:.25rem .5rem;text-align:right;white-space:nowrap}
th{background:#eef2f7;position:sticky;top:0}td.task,th.task,td.name,th.name,td.kind{text-align:left}
table.sortable th{cursor:pointer;user-select:none}table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
td.best{font-weight:700;background:#dff3e4}tr.avg td{border-top:2px solid #9aa5b5;font-style:italic}
tr.kind-run td.name{color:#0b5cad}tr.kind-human{color:#6b7280}tr.kind-suite-only{color:#6b7280;font-style:italic}
.badge{display:inline-block;font-size:.72rem;border-radius:.6rem;padding:0 .45rem;margin-left:.3rem;background:#eef2f7;
color:#374151}.badge.partial{background:#fde68a}.badge.check{background:#fecaca}.badge.ref{background:#e0e7ff}
details.run{border:1px solid #d8dee9;border-radius:.4rem;padding:.3rem .8rem;margin:.6rem 0}
details.run summary{cursor:pointer;font-weight:600}img.plot{max-width:100%;height:auto;display:block;margin:.4rem 0}
nav a{margin-right:1rem}code{background:#f3f4f6;padding:0 .2rem}
"""

_JS = """
(function(){
  function key(td,type){var v=td.getAttribute('data-sort');if(v===null)v=td.textContent.trim();
    if(type==='num'){var x=parseFloat(v);return isNaN(x)?null:x;}return v.toLowerCase();}
  function sortTable(table,col,dir){
    var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows),th=table.tHead.rows[0].cells[col];
    var type=th.getAttribute('data-type')||'text',sign=dir==='asc'?1:-1;
    rows.sort(function(a,b){var x=key(a.cells[col],type),y=key(b.cells[col],type);
      if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
      return x<y?-sign:(x>y?sign:0);});
    rows.forEach(function(r){body.appendChild(r);});
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
    th.setAttribute('aria-sort',dir==='asc'?'ascending':'descending');
    table.setAttribute('data-sorted',col+':'+dir);
  }
  var tables=document.querySelectorAll('table.sortable');
  Array.prototype.forEach.call(tables,function(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
      th.addEventListener('click',function(){
        var cur=th.getAttribute('aria-sort');
        sortTable(table,i,cur==='descending'?'asc':(cur==='ascending'?'desc':
          (th.getAttribute('data-type')==='num'?'desc':'asc')));});});});
  /* #sort=TABLE_ID:COLUMN:asc|desc opens the page sorted (shareable links) */
  var m=/^#sort=([\\w-]+):(\\d+):(asc|desc)$/.exec(location.hash);
  if(m){var t=document.getElementById(m[1]);if(t&&t.classList.contains('sortable'))sortTable(t,+m[2],m[3]);}
  /* a link or URL to #run-NAME opens that run's drill-down */
  function openTarget(){var id=decodeURIComponent(location.hash.slice(1)),el=id&&document.getElementById(id);
    if(el&&el.tagName==='DETAILS')el.open=true;}
  window.addEventListener('hashchange',openTarget);openTarget();
  document.body.setAttribute('data-sortable-tables',String(tables.length));
  window.addEventListener('load',function(){var ok=0,imgs=document.images;
    for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0)ok++;}
    document.body.setAttribute('data-images-rendered',ok+'/'+imgs.length);});
})();
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _html_suite_table(s: SuiteComparison) -> str:
    cols = s.columns
    head = "".join(f'<th class="kind-{c.kind}" title="{_e(c.note or c.source)}">{_e(column_header(s, c))}</th>'
                   for c in cols)
    body = []
    for row in table_rows(s):
        cls = "avg" if row.kind == "average" else f"row-{row.kind}"
        tds = []
        for c, text in zip(cols, row.cells):
            classes = [f"kind-{c.kind}"] + (["best"] if c.key in row.best and text not in ("", DASH) else [])
            tip = f' title="variant {_e(c.chosen[row.task])}"' if row.task and row.task in c.chosen else ""
            tds.append(f'<td class="{" ".join(classes)}"{tip}>{_e(text)}</td>')
        body.append(f'<tr class="{cls}" data-task="{_e(row.task or "")}"><td class="task">{_e(row.label)}</td>'
                    + "".join(tds) + "</tr>")
    notes = "".join(f"<li>{_e(n)}</li>" for n in s.notes)
    return (f'<table class="comparison" id="tasks-{_e(s.suite)}"><thead><tr><th class="task">task</th>{head}</tr>'
            f'</thead><tbody>{"".join(body)}</tbody></table><ul class="note">{notes}</ul>')


def _html_leaderboard(s: SuiteComparison) -> str:
    k = len(s.reference_tasks)
    heads = [("rank", "num"), ("system", "text"), ("kind", "text"), (f"average ({k} tasks)", "num"),
             ("95% interval", "num"), ("official extractor", "num"), (f"vs {BASELINE_MODEL}", "num"),
             ("tasks", "num"), ("examples", "num"), ("published", "num")]
    name_cls = ' class="name"'
    th = "".join(f'<th data-type="{t}"{name_cls if h in ("system", "kind") else ""}>{_e(h)}</th>' for h, t in heads)
    rows = []
    for e in leaderboard_entries(s):
        c = e.column
        badges = ""
        if c.partial:
            badges += '<span class="badge partial">partial</span>'
        if c.kind in ("reference", "human"):
            badges += f'<span class="badge ref">{_e(c.source)}</span>'
        if c.published_check or (c.check and c.kind in ("reference", "human")):
            badges += f'<span class="badge check" title="{_e(c.published_check or c.check)}">check</span>'
        if e.interval:
            lo, hi = e.interval
            approx = "≈" if c.approximate_counts else ""
            ci, ci_sort = f"{approx}[{fmt(lo)}, {fmt(hi)}]", f"{hi - lo:.4f}"
        else:
            ci, ci_sort = DASH, ""
        avg = fmt(e.average) + ("*" if e.average is not None and e.covered < k else "")
        cells = [
            (str(e.rank) if e.rank else DASH, str(e.rank) if e.rank else ""),
            (None, c.label),
            (c.kind, c.kind),
            (avg, f"{e.average:.6f}" if e.average is not None else ""),
            (ci, ci_sort),
            (fmt(e.official), f"{e.official:.6f}" if e.official is not None else ""),
            (DASH if e.relative is None else f"{round_half_up(e.relative, 0):.0f} %",
             f"{e.relative:.6f}" if e.relative is not None else ""),
            (f"{e.covered}/{k}", str(e.covered)),
            (DASH if e.examples is None else str(e.examples), "" if e.examples is None else str(e.examples)),
            (_published(c.published, c.published_check) if c.published else DASH,
             f"{c.published[0]:.6f}" if c.published else ""),
        ]
        tds = []
        for i, (text, sort) in enumerate(cells):
            if i == 1:
                link = f'<a href="#run-{_e(c.run.path.name)}">{_e(c.label)}</a>' if c.run else _e(c.label)
                tds.append(f'<td class="name" data-sort="{_e(sort)}">{link}{badges}</td>')
            else:
                kind = ' class="kind"' if i == 2 else ""
                tds.append(f'<td{kind} data-sort="{_e(sort)}">{_e(text)}</td>')
        rows.append(f'<tr class="kind-{c.kind}">' + "".join(tds) + "</tr>")
    for src, m in s.suite_only:
        pub = _published(m.published_average, m.average_check)
        rows.append(f'<tr class="kind-suite-only" title="{_e(m.note or "")}"><td data-sort="">{DASH}</td>'
                    f'<td class="name" data-sort="{_e(m.name)}">{_e(m.name)}<span class="badge ref">{_e(src)}</span>'
                    f'</td><td class="kind">published only</td><td data-sort="">{DASH}</td><td data-sort="">{DASH}</td>'
                    f'<td data-sort="">{DASH}</td><td data-sort="">{DASH}</td><td data-sort="">{DASH}</td>'
                    f'<td data-sort="">{DASH}</td><td data-sort="{m.published_average[0]:.6f}">{_e(pub)}</td></tr>')
    return (f'<table class="sortable leaderboard" id="leaderboard-{_e(s.suite)}"><thead><tr>{th}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _system_message_text(variant: dict | None) -> str:
    if not variant:
        return "(not recorded)"
    text = variant.get("system_message")
    if text is None:
        return "(no system turn)"
    return "(empty system message)" if text == "" else repr(text)


def _html_run_details(run: RunResult, label: str, comp: Comparison, images: dict) -> str:
    meta = run.meta
    model = meta.get("model", {})
    facts = [("model", model.get("spec") or model.get("path")), ("backend", model.get("backend")),
             ("revision", model.get("revision")), ("mode", meta.get("mode")), ("prompt style", meta.get("prompt_style")),
             ("decoding", json.dumps(meta["decoding"]) if meta.get("decoding") else None), ("seed", meta.get("seed")), ("repeats", meta.get("repeats")),
             ("limit", meta.get("limit")), ("git commit", meta.get("git_commit")),
             ("started", meta.get("started_at")), ("finished", meta.get("finished_at")), ("directory", str(run.path))]
    dl = "".join(f"<li><b>{_e(k)}</b>: <code>{_e(v)}</code></li>" for k, v in facts if v not in (None, "", {}))
    variants = meta.get("variants", {})
    vlist = "".join(f"<li><code>{_e(v)}</code>: {_e(_system_message_text(variants.get(v)))}</li>" for v in run.variants)
    imgs = "".join(f'<figure><img class="plot" alt="{_e(alt)}" src="{uri}"><figcaption>{_e(alt)}</figcaption></figure>'
                   for alt, uri in images.get(label, []))
    tables = []
    for variant in run.variants:
        rows = []
        for task, t in sorted(run.summary["variants"][variant]["tasks"].items()):
            ci = t.get("ci95") or [None, None]
            n_total = t.get("n_total")
            rows.append(
                f'<tr><td class="task">{_e(task)}</td><td>{_e(t.get("n"))}'
                f'{"" if n_total in (None, t.get("n")) else f" / {_e(n_total)}"}</td><td>{_e(t.get("correct", DASH))}</td>'
                f'<td data-sort="{t["accuracy"]}">{fmt(t["accuracy"], 2)}</td>'
                f'<td>[{fmt(ci[0], 2)}, {fmt(ci[1], 2)}]</td><td>{fmt(t.get("accuracy_official"), 2)}</td>'
                f'<td>{fmt(t.get("unparsed_rate"), 2)}</td><td>{fmt(t.get("accuracy_std"), 2)}</td></tr>')
        suites = run.summary["variants"][variant].get("suites", {})
        stext = ", ".join(f"{k}: {fmt(v.get('accuracy'), 2)} ({fmt(v.get('accuracy_official'), 2)}) over "
                          f"{v.get('n_tasks')} tasks" for k, v in suites.items())
        tid = f"detail-{_e(run.path.name)}-{_e(variant)}"
        tables.append(
            f'<h4>variant <code>{_e(variant)}</code> <span class="meta">{_e(stext)}</span></h4>'
            f'<table class="sortable detail" id="{tid}"><thead><tr><th data-type="text">task</th>'
            f'<th data-type="num">n</th><th data-type="num">correct</th><th data-type="num">accuracy %</th>'
            f'<th data-type="text">95% Wilson</th><th data-type="num">official %</th>'
            f'<th data-type="num">unparsed %</th><th data-type="num">std over repeats</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')
    partial = '<span class="badge partial">partial</span>' if run.is_partial() else ""
    return (f'<details class="run" id="run-{_e(run.path.name)}"><summary>{_e(label)}{partial} '
            f'<span class="meta">{_e(model.get("spec", ""))} · {len(run.variants)} variant(s)</span></summary>'
            f'<ul class="meta">{dl}</ul><p>System messages:</p><ul class="meta">{vlist}</ul>{imgs}'
            f'{"".join(tables)}</details>')


def render_html(comp: Comparison, title: str = "orca-eval leaderboard", plots: bool = True,
                generated_at: str | None = None) -> str:
    """One self-contained HTML page: ranking per suite with intervals, per-task tables,
    per-run drill-down with system-message sensitivity and per-task bar plots.
    Inline CSS/JS, images as data: URIs; nothing is fetched when it is opened."""
    images: dict[str, list[tuple[str, str]]] = {}
    ranking_imgs: dict[str, str] = {}
    if plots:
        from harness import plots as P
        labels = _run_labels(comp.runs)
        for i, run in enumerate(comp.runs):
            label = labels[i]
            items = []
            sens = P.sensitivity_png(comp, i)
            if sens:
                items.append((f"{label}: suite average per system-message variant", P.data_uri(sens)))
            for s in comp.suites:
                png, variant = P.task_bars_png(s, i)
                if png:
                    items.append((f"{label} ({variant}) per {SUITE_NAMES.get(s.suite, s.suite)} task against "
                                  f"the reference models", P.data_uri(png)))
            images[label] = items
        for s in comp.suites:
            png = P.ranking_png(s, leaderboard_entries(s))
            if png:
                ranking_imgs[s.suite] = P.data_uri(png)

    generated_at = generated_at or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
             f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head><body>',
             f'<h1>{_e(title)}</h1><p class="meta">Generated {_e(generated_at)} · {len(comp.runs)} run(s) · '
             f'reference: {_e(", ".join(r.name for r in comp.references) or "none")}. Click a column header to sort.</p>']
    nav = "".join(f'<a href="#suite-{_e(s.suite)}">{_e(SUITE_NAMES.get(s.suite, s.suite))}</a>' for s in comp.suites)
    parts.append(f"<nav>{nav}<a href=\"#runs\">runs</a><a href=\"#method\">method</a></nav>")
    for n in comp.notes:
        parts.append(f'<p class="note"><span class="badge partial">partial</span> {_e(n)}</p>')
    for s in comp.suites:
        name = SUITE_NAMES.get(s.suite, s.suite)
        parts.append(f'<section id="suite-{_e(s.suite)}"><h2>{_e(name)}: ranking by average</h2>'
                     f'<p class="meta">{_e(s.title)}</p>{_html_leaderboard(s)}')
        if s.suite in ranking_imgs:
            parts.append(f'<figure><img class="plot" alt="{_e(name)} ranking with 95% intervals" '
                         f'src="{ranking_imgs[s.suite]}"><figcaption>{_e(name)} averages with 95% intervals'
                         f'</figcaption></figure>')
        parts.append(f"<h3>{_e(name)} per task</h3>{_html_suite_table(s)}</section>")
    parts.append('<section id="runs"><h2>Runs</h2>')
    labels = _run_labels(comp.runs)
    for i, run in enumerate(comp.runs):
        parts.append(_html_run_details(run, labels[i], comp, images))
    if not comp.runs:
        parts.append('<p class="note">No runs.</p>')
    parts.append("</section>")
    cites = "".join(f"<li><code>{_e(r.name)}</code>: {_e(r.citation)}{' (' + _e(r.url) + ')' if r.url else ''}</li>"
                    for r in comp.references)
    parts.append(
        '<section id="method"><h2>Method</h2><ul class="note">'
        "<li>Averages are unweighted means over the reference's task set (BBH: the paper's 23 tasks), the same set "
        "for every row; 'tasks' says how many of them an entry has (runs missing some are marked * and not ranked).</li>"
        "<li>95% interval of a run's average: the tasks are independent binomials, so the variance of the mean is "
        "the sum of the per-task variances p̃(1−p̃)/n (p̃: Agresti-Coull adjusted proportion) over K²; "
        "interval = mean ± 1.96·sd. "
        "Reference intervals (≈) assume the published accuracy over the full public test set.</li>"
        "<li>best-SM: per task the best of the run's variants (the paper's Table 9 view), chosen on the test data: "
        "optimistic, no interval.</li>"
        "<li>Official extractor: the paper's answer rule (first capital letter for AGIEval); robust extractor: "
        "ours. Both are recorded for every example.</li>"
        f"<li>{CHECK_MARK} / check: a published figure whose source could not be confirmed twice.</li>"
        f"</ul><p>References:</p><ul class=\"note\">{cites}</ul></section>")
    parts.append(f"<script>{_JS}</script></body></html>\n")
    return "".join(parts)
