"""The result of comparing two runs: per task and per suite, the paired counts, the test, the
verdict and the minimal detectable effect, and the overall verdict a CI gate exits on. The
rules that decide a verdict are in runs.py's docstring (and docs/compare.md); render.py shows
a Comparison, runs.py makes one.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from harness.compare.stats import POWER
from harness.display import pct

IMPROVED = "improved"
REGRESSED = "regressed"
NO_CHANGE = "no significant change"
SCHEMA_VERSION = 1



@dataclass
class TaskComparison:
    """One task of one variant: paired accuracies, flips and the McNemar test."""

    variant: str
    task: str
    n: int
    base_correct: int
    cand_correct: int
    lost: int          # base right, candidate wrong
    gained: int        # base wrong, candidate right
    p_value: float
    p_adjusted: float = 1.0
    verdict: str = NO_CHANGE
    dropped: int = 0   # examples left out by --intersection
    mde: float | None = None  # points; None: no regression this n can show with 80 % power

    @property
    def discordance(self) -> float:
        """Share of the paired examples that flipped either way (0..1)."""
        return (self.lost + self.gained) / self.n

    @property
    def suite(self) -> str:
        return self.task.split("/", 1)[0]

    @property
    def base_accuracy(self) -> float:
        return 100.0 * self.base_correct / self.n

    @property
    def cand_accuracy(self) -> float:
        return 100.0 * self.cand_correct / self.n

    @property
    def delta(self) -> float:
        return self.cand_accuracy - self.base_accuracy

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(suite=self.suite, base_accuracy=round(self.base_accuracy, 4),
                 cand_accuracy=round(self.cand_accuracy, 4), delta=round(self.delta, 4),
                 discordance=round(self.discordance, 4), mde=None if self.mde is None else round(self.mde, 4))
        return d


@dataclass
class SuiteComparison:
    """A suite's macro-average delta over its compared tasks, with a bootstrap interval."""

    variant: str
    suite: str
    n_tasks: int
    n: int
    base_accuracy: float
    cand_accuracy: float
    delta: float
    ci95: tuple[float, float]
    p_value: float
    p_adjusted: float = 1.0
    verdict: str = NO_CHANGE
    discordance: float = 0.0  # share of the suite's paired examples that flipped (0..1)
    mde: float | None = None  # points, of the macro delta; None: not reachable with 80 % power

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ci95"] = [round(x, 4) for x in self.ci95]
        for k in ("base_accuracy", "cand_accuracy", "delta", "discordance", "mde"):
            d[k] = None if d[k] is None else round(d[k], 4)
        return d


@dataclass
class Comparison:
    """The result of `compare_runs`: per-task and per-suite results and the verdict."""

    base: str
    candidate: str
    alpha: float
    min_delta: float
    correction: str
    bootstrap: int
    seed: int
    repeats: str
    intersection: bool
    tasks: list[TaskComparison] = field(default_factory=list)
    suites: list[SuiteComparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[TaskComparison | SuiteComparison]:
        """What fails the gate: significant regressions beyond min_delta."""
        return [r for r in [*self.suites, *self.tasks] if r.verdict == REGRESSED]

    @property
    def improvements(self) -> list[TaskComparison | SuiteComparison]:
        return [r for r in [*self.suites, *self.tasks] if r.verdict == IMPROVED]

    @property
    def verdict(self) -> str:
        if self.regressions:
            return REGRESSED
        if self.improvements:
            return IMPROVED
        return NO_CHANGE

    @property
    def dropped(self) -> int:
        return sum(t.dropped for t in self.tasks)

    def exit_code(self, fail_on_regression: bool = True) -> int:
        """1 when gating and there is a significant regression beyond min_delta, else 0."""
        return 1 if fail_on_regression and self.verdict == REGRESSED else 0

    def gate_message(self) -> str:
        """One line for CI logs naming what regressed."""
        if self.verdict != REGRESSED:
            return f"no significant regression beyond {points_text(self.min_delta)}"
        parts = [f"{_label(r)} {pct(r.delta, sign=True)}" for r in self.regressions]
        return (f"{len(parts)} significant regression(s) beyond {points_text(self.min_delta)}: "
                + ", ".join(parts[:8]) + (" ..." if len(parts) > 8 else ""))

    def mde_lines(self) -> list[str]:
        """One line per suite: the regression this comparison catches with 80 % power."""
        variants = len({s.variant for s in self.suites}) > 1
        lines = []
        for s in self.suites:
            tasks = [t for t in self.tasks if t.variant == s.variant and t.suite == s.suite]
            where = f"{s.suite} ({s.variant})" if variants else s.suite
            what = ("would catch a regression of " + mde_text(s.mde) if s.mde is not None
                    else "is too small to catch any regression")
            lines.append(f"this comparison {what} on {where} with {100 * POWER:.0f} % power (n={s.n}, "
                         f"discordance {pct(100 * s.discordance)} %); in one task alone {_range(t.mde for t in tasks)}")
        return lines

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA_VERSION,
            "base": self.base,
            "candidate": self.candidate,
            "verdict": self.verdict,
            "settings": {"alpha": self.alpha, "min_delta": self.min_delta, "correction": self.correction,
                         "bootstrap": self.bootstrap, "seed": self.seed, "repeats": self.repeats,
                         "intersection": self.intersection, "mde_power": POWER},
            "dropped_examples": self.dropped,
            "notes": list(self.notes),
            "suites": [s.to_dict() for s in self.suites],
            "tasks": [t.to_dict() for t in self.tasks],
            "regressions": [_label(r) for r in self.regressions],
            "improvements": [_label(r) for r in self.improvements],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


def points_text(x: float) -> str:
    """`1 point`, `2.5 points`."""
    return f"{x:g} point" + ("" if x == 1 else "s")


def mde_text(mde: float | None) -> str:
    """`>= 10.4 points`, or that no regression reaches 80 % power at this n."""
    return "no regression (too few examples)" if mde is None else f">= {pct(mde)} points"


def _range(mdes) -> str:
    known = sorted(m for m in mdes if m is not None)
    if not known:
        return "none (too few examples)"
    lo, hi = pct(known[0]), pct(known[-1])
    return f">= {lo} points" if lo == hi else f">= {lo} to {hi} points"


def _label(r: TaskComparison | SuiteComparison) -> str:
    name = r.task if isinstance(r, TaskComparison) else f"{r.suite} (macro)"
    return f"{r.variant}:{name}"
