"""What a report compares: per suite, the rows (tasks) and columns (reference models, run
variants, a run's best-SM), the numbers in them, averages, intervals and the ranking.

Only numbers here: `harness.report.build` fills these from runs and reference sets,
`harness.report.cells` turns them into cell text, and the renderers only format that text.

Conventions (see docs/reports.md):
- rows are tasks; columns are reference models, then per run one column per
  system-message variant and, with several variants, a "best-SM" column (per task the
  best variant, the paper's Table 9 view; chosen on the test data, so optimistic).
- the like-for-like average row uses the reference's task set for every column
  (BBH: the paper's 23 tasks, though our suite has 27); a run's own suite average over
  all of its tasks is a separate row.
- macro-average intervals: each task an independent binomial, Var(mean) = sum Var_k / K^2
  with per-task variances from Agresti-Coull adjusted proportions; mean +- 1.96 sd
  (see `macro_interval`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from harness.reference import BASELINE_MODEL, ReferenceModel, ReferenceSet
from harness.results import RunResult
from harness.compare.stats import Z95
from harness.suites import get_suite


def suite_title(suite: str) -> str:
    """A suite's display name ("AGIEval"); one this code does not know keeps its own name."""
    known = get_suite(suite)
    return known.title if known else suite


def suite_sort_key(suite: str) -> tuple[int, str]:
    """Suites in their reports' order (harness/suites/ `order`), unknown ones last, by name."""
    known = get_suite(suite)
    return (known.order if known else 99, suite)


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
    full_name: str | None = None  # a run's own name and directory, where `label` is a short display name

    @property
    def is_run(self) -> bool:
        return self.kind in ("run", "run-best")

    @property
    def competes(self) -> bool:
        """Takes part in "best per row" (people and suite-only entries do not, nor `--limit`
        runs: their figures are over the first few examples, so a 4-of-4 would outshine GPT-4)."""
        return self.kind in ("reference", "run", "run-best") and not self.partial


@dataclass
class SuiteTable:
    """One suite's table: which tasks (rows), which columns (reference models and runs), and the
    figures derived from them. (Not `harness.compare.comparison.SuiteComparison`, one suite of two runs.)"""

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
        return _macro_average(col.official if official else col.scores, self.reference_tasks)

    def own_average(self, col: Column, official: bool = False) -> tuple[float | None, int]:
        """Macro average over every task of this suite the column has (a run's suite average)."""
        return _macro_average(col.official if official else col.scores, self.tasks)

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


def _macro_average(scores: dict[str, float], tasks: list[str]) -> tuple[float | None, int]:
    """Unweighted mean of `scores` over those of `tasks` it has, and how many it has."""
    have = [t for t in tasks if t in scores]
    if not have:
        return None, 0
    return sum(scores[t] for t in have) / len(have), len(have)


@dataclass
class Report:
    """Everything `orca-eval report` shows: one `SuiteTable` per suite, the notes and the ablations.
    (Not `harness.compare.comparison.Comparison`, which is two runs compared.)"""

    runs: list[RunResult]
    references: list[ReferenceSet]
    suites: list[SuiteTable]
    notes: list[str]
    ablations: list = field(default_factory=list)  # harness.report.ablation.Ablation, per multi-variant run and suite
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (display name, full name) of shortened runs


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


# --------------------------------------------------------------------------- ranking

@dataclass
class Entry:
    """A row of the HTML leaderboard: one column of a suite comparison."""

    column: Column
    average: float | None
    covered: int
    official: float | None
    interval: tuple[float, float] | None
    relative: float | None
    rank: int | None  # None: not ranked (people, best-SM, --limit runs)
    examples: int | None


def leaderboard_entries(s: SuiteTable) -> list[Entry]:
    """The ranking: columns with every reference task (and published-only entries aside),
    ranked by like-for-like average; people, best-SM and `--limit` runs shown but unranked.

    Runs missing reference tasks are not here: an average over 2 easy tasks is not
    comparable with one over 23, and sorted in among them it would sit above GPT-4.
    They are compared on their own tasks instead (`partial_coverage`).
    A `--limit` run (`Column.partial`: the first N examples of each task) has every task
    and stays listed, sorted by its average, but gets no rank: its average is over a
    sample, and a rank would put it above full runs on that sample's luck."""
    entries = []
    for c in s.columns:
        if not s.complete(c):
            continue
        avg, covered = s.average(c)
        off = s.average(c, official=True)[0] if c.is_run else None
        examples = sum(n for t, (_, n) in c.counts.items() if t in s.reference_tasks) if c.kind == "run" else None
        entries.append(Entry(c, avg, covered, off, s.interval(c), s.relative(c) if c.kind != "human" else None,
                             None, examples))
    entries.sort(key=lambda e: (-(e.average if e.average is not None else -1), e.column.label))
    rank = 0
    for e in entries:
        # best-SM is selected on the test data, so it is shown but not ranked
        if e.column.kind in ("reference", "run") and not e.column.partial and e.average is not None:
            rank += 1
            e.rank = rank
    return entries


@dataclass
class PartialEntry:
    """A run column that lacks some reference tasks, compared on the tasks it has."""

    column: Column
    tasks: list[str]  # the reference tasks it covers
    average: float | None  # over `tasks`
    official: float | None
    interval: tuple[float, float] | None
    references: list[tuple[str, float]]  # (reference model, its average over the same `tasks`)
    examples: int | None


def partial_coverage(s: SuiteTable) -> list[PartialEntry]:
    """Run columns that cover only some of the reference tasks, each beside every reference
    model's average over the *same* tasks (references lacking one of them are left out),
    most tasks first. They are never ranked against full-coverage entries."""
    refs = [c for c in s.columns if c.kind == "reference"]
    out = []
    for c in s.columns:
        if not c.is_run or s.complete(c):
            continue
        tasks = [t for t in s.reference_tasks if t in c.scores]
        avg = _macro_average(c.scores, tasks)[0]
        off = _macro_average(c.official, tasks)[0]
        counts = [c.counts.get(t) for t in tasks]
        # best-SM is chosen on the test data: no interval for it, as in the ranking
        interval = macro_interval(counts) if tasks and c.kind == "run" and None not in counts else None
        same = [(r.label, _macro_average(r.scores, tasks)[0]) for r in refs if tasks and all(t in r.scores for t in tasks)]
        examples = sum(c.counts[t][1] for t in tasks if t in c.counts) if c.kind == "run" else None
        out.append(PartialEntry(c, tasks, avg, off, interval, same, examples))
    out.sort(key=lambda e: (-len(e.tasks), -(e.average if e.average is not None else -1), e.column.label))
    return out
