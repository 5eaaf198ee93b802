"""Paired statistics for comparing two checkpoints on the same examples.

Every example is scored by both checkpoints, so each one falls in one of four cells:
both right, both wrong, *lost* (base right, candidate wrong) or *gained* (base wrong,
candidate right). Only the discordant cells carry information about a difference:

- `mcnemar_exact(lost, gained)`: exact McNemar test, i.e. a two-sided binomial test of
  `lost` out of `lost + gained` at p = 1/2 (scipy.stats.binomtest).
- `bootstrap_macro_delta(...)`: paired bootstrap of a suite's macro-average delta,
  resampling examples within each task (seeded).
- `holm(p)`, `benjamini_hochberg(p)`: adjusted p-values for many tasks at once.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest, norm

from harness.compare.thresholds import CORRECTIONS  # declared where no scipy is loaded
Z95 = float(norm.ppf(0.975))  # the two-sided 95 % normal quantile, 1.959963984540054


@dataclass(frozen=True)
class PairedCounts:
    """The 2x2 table of one task's paired outcomes, reduced to what the tests need."""

    n: int        # paired examples
    lost: int     # base right, candidate wrong
    gained: int   # base wrong, candidate right

    @property
    def delta(self) -> float:
        """Candidate minus base accuracy, in percentage points."""
        return 100.0 * (self.gained - self.lost) / self.n if self.n else 0.0


def paired_counts(base_correct, cand_correct) -> PairedCounts:
    """Count flips between two equally long sequences of booleans (same example order)."""
    base = np.asarray(base_correct, dtype=bool)
    cand = np.asarray(cand_correct, dtype=bool)
    if base.shape != cand.shape:
        raise ValueError(f"paired outcomes differ in length: {base.shape} vs {cand.shape}")
    return PairedCounts(n=int(base.size), lost=int(np.sum(base & ~cand)), gained=int(np.sum(~base & cand)))


def mcnemar_exact(lost: int, gained: int) -> float:
    """Two-sided exact McNemar p-value. Concordant pairs do not enter; with no
    discordant pair at all there is no evidence of a change (p = 1)."""
    discordant = lost + gained
    if discordant == 0:
        return 1.0
    return float(binomtest(lost, discordant, 0.5, alternative="two-sided").pvalue)


def holm(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values (controls the family-wise error rate)."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = (m - np.arange(m)) * p[order]
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate(scaled))
    out = np.empty(m)
    out[order] = adjusted_sorted
    return out


def benjamini_hochberg(pvalues) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (controls the false discovery rate)."""
    from scipy.stats import false_discovery_control

    p = np.asarray(pvalues, dtype=float)
    return p.copy() if p.size == 0 else np.minimum(1.0, false_discovery_control(p, method="bh"))


def adjust_pvalues(pvalues, method: str) -> np.ndarray:
    """Adjusted p-values by `method` ("holm" or "bh")."""
    if method == "holm":
        return holm(pvalues)
    if method == "bh":
        return benjamini_hochberg(pvalues)
    raise ValueError(f"unknown correction {method!r} (choose from {', '.join(CORRECTIONS)})")


@dataclass(frozen=True)
class BootstrapResult:
    """A suite's macro-average delta (points) with its paired bootstrap interval."""

    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    resamples: int
    level: float


def bootstrap_macro_delta(tasks: list[PairedCounts], resamples: int = 10_000, seed: int | np.random.SeedSequence = 0,
                          level: float = 0.95) -> BootstrapResult:
    """Paired bootstrap of the macro average (over tasks) of candidate minus base accuracy.

    Each task's examples are resampled with replacement within that task, keeping every
    example's (base, candidate) pair together. A task's resampled delta depends only on how
    many lost / gained / unchanged examples were drawn, and drawing n indices with
    replacement gives exactly a Multinomial(n, (lost, gained, unchanged) / n) count, so we
    draw those counts directly: the same distribution as index resampling at O(resamples)
    per task instead of O(resamples * n).

    The interval is the percentile interval at `level`; `p_value` is the two-sided
    bootstrap p-value for "macro delta = 0" (the smallest 1 - level at which the
    percentile interval would touch 0), with the usual +1 so it is never 0.
    """
    tasks = [t for t in tasks if t.n > 0]
    if not tasks:
        raise ValueError("bootstrap needs at least one task with paired examples")
    if resamples < 1:
        raise ValueError("resamples must be >= 1")
    rng = np.random.default_rng(seed)
    macro = np.zeros(resamples)
    for t in tasks:
        pvals = np.array([t.lost, t.gained, t.n - t.lost - t.gained], dtype=float) / t.n
        counts = rng.multinomial(t.n, pvals, size=resamples)
        macro += (counts[:, 1] - counts[:, 0]) / t.n
    macro *= 100.0 / len(tasks)
    observed = sum(t.delta for t in tasks) / len(tasks)
    tail = (1.0 - level) / 2
    lo, hi = np.quantile(macro, [tail, 1.0 - tail])
    below = (np.count_nonzero(macro <= 0) + 1) / (resamples + 1)
    above = (np.count_nonzero(macro >= 0) + 1) / (resamples + 1)
    p_value = min(1.0, 2 * min(below, above))
    return BootstrapResult(delta=observed, ci_low=float(lo), ci_high=float(hi), p_value=float(p_value),
                           resamples=resamples, level=level)


@functools.lru_cache(maxsize=64)
def _critical_counts(alpha: float, size: int) -> np.ndarray:
    """c[d] for d = 0..size-1: the exact two-sided McNemar test at level `alpha` with d
    discordant pairs rejects exactly when min(lost, d - lost) <= c[d] (-1: it cannot reject).

    The rejection region depends on d and alpha only, not on n or the flip probabilities,
    so one array (cached, grown in powers of two) serves every power calculation."""
    from scipy.stats import binom

    d = np.arange(size)
    # the test rejects k when 2 * P(Binomial(d, 1/2) <= k) < alpha; that set is a prefix of
    # 0..floor(d/2), so count it on the grid k = 0..floor(size/2) at once
    k = np.arange(size // 2 + 1)[None, :]
    tail = binom.cdf(k, d[:, None], 0.5)
    reject = (np.minimum(1.0, 2 * tail) < alpha) & (k <= d[:, None] // 2)
    return reject.sum(axis=1) - 1


def _critical(alpha: float, n: int) -> np.ndarray:
    size = 1 << max(6, int(n).bit_length())  # >= n + 1
    return _critical_counts(float(alpha), size)[: n + 1]


def _discordant_counts(n: int, p_lost: float, p_gained: float, alpha: float):
    """What both power sums share: P(D = d) for d = 0..n discordant pairs, the share of them
    that are lost, and the exact test's critical lost count c[d] at `alpha` (-1: no rejection)."""
    from scipy.stats import binom

    d = np.arange(n + 1)
    p_disc = p_lost + p_gained
    return binom.pmf(d, n, p_disc), p_lost / p_disc, _critical(alpha, n), d


def mcnemar_power(n: int, p_lost: float, p_gained: float, alpha: float = 0.05) -> float:
    """Exact power of the two-sided exact McNemar test at level `alpha` for n paired
    examples whose per-example probabilities of a lost / gained flip are given.

    Sums over the number of discordant pairs d ~ Binomial(n, p_lost + p_gained); given d,
    lost ~ Binomial(d, p_lost / (p_lost + p_gained)) and the test rejects when
    2 * P(Binomial(d, 1/2) <= min(lost, d - lost)) < alpha.
    """
    from scipy.stats import binom

    if p_lost + p_gained == 0:
        return 0.0
    weight, share_lost, c, d = _discordant_counts(n, p_lost, p_gained, alpha)
    # both tails of lost: <= c[d] and >= d - c[d] (disjoint, c[d] < d / 2); empty where c = -1
    both = binom.cdf(c, d, share_lost) + np.where(c >= 0, binom.sf(d - c - 1, d, share_lost), 0.0)
    return float(np.sum(weight * both))


def regression_power(n: int, p_lost: float, p_gained: float, alpha: float = 0.05, min_delta: float = 0.0) -> float:
    """Probability that `compare` calls a task *regressed*: the exact McNemar test rejects at
    level `alpha` in the direction of more lost than gained pairs, and the observed delta is
    at least `min_delta` points down (harness.compare.runs' task rule with one test at `alpha`)."""
    from scipy.stats import binom

    if p_lost + p_gained == 0:
        return 0.0
    weight, share_lost, c, d = _discordant_counts(n, p_lost, p_gained, alpha)
    # lost - gained >= n * min_delta / 100 (the verdict's own 1e-9 point tolerance, in pairs)
    excess = math.ceil(n * min_delta / 100.0 - n * 1e-11)
    low = np.maximum(d - c, np.ceil((d + excess) / 2))  # smallest lost that fails the gate
    tail = np.where(c >= 0, binom.sf(low - 1, d, share_lost), 0.0)
    return float(np.sum(weight * tail))


def normal_power(delta: float, se: float, alpha: float = 0.05) -> float:
    """Power of a two-sided z-test for a true effect `delta` with standard error `se`."""
    if se <= 0:
        return 1.0 if delta != 0 else 0.0
    z = norm.ppf(1 - alpha / 2)
    return float(norm.sf(z - abs(delta) / se) + norm.cdf(-z - abs(delta) / se))


def macro_delta_se(tasks: list[tuple[int, float, float]]) -> float:
    """Standard error (points) of a macro-average delta for tasks given as
    (n, p_lost, p_gained): per-example delta has variance p_l + p_g - (p_g - p_l)^2."""
    var = sum((pl + pg - (pg - pl) ** 2) / n for n, pl, pg in tasks) / len(tasks) ** 2
    return 100.0 * math.sqrt(var)


# ---------------------------------------------------------------- minimal detectable effect (MDE)

POWER = 0.8  # the power an MDE is quoted at


def _alternative(d: float, p_disc: float) -> tuple[float, float]:
    """(p_lost, p_gained) of a true regression of d (a fraction) at discordance p_disc: the
    discordance is held at the observed rate, but never below d (a regression of d means at
    least a share d of the examples flipped from right to wrong)."""
    q = max(p_disc, d)
    return (q + d) / 2, (q - d) / 2


def _smallest(power_at, tol: float = 1e-4) -> float | None:
    """The smallest d in (0, 1] with power_at(d) >= POWER, by bisection (power_at rises with d),
    to `tol` (1e-4 = 0.01 points), rounded up so the returned d always has the power; None
    when even d = 1 (every example lost) does not reach it."""
    if power_at(1.0) < POWER:
        return None
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if power_at(mid) >= POWER else (mid, hi)
    return hi


def task_mde(n: int, p_disc: float, alpha: float, min_delta: float = 0.0) -> float | None:
    """Minimal detectable effect of one task, in points: the smallest true regression d with
    `regression_power` >= 0.8 (exact McNemar at level `alpha`, observed delta <= -min_delta),
    for n pairs at discordance rate `p_disc` = (lost + gained) / n.

    Assumptions: the discordance under the regression is the observed one, with p_lost =
    (p_disc + d) / 2 and p_gained = (p_disc - d) / 2; where that is below d (identical runs have
    p_disc = 0) it is taken as d, the least a regression of d implies: all flips are losses, the
    easiest case to detect, so the MDE is then a best case. `compare` passes its per-task level
    alpha / m over the m corrected tests: Holm's first step, so it is exact for one regressed task
    among unchanged ones and conservative otherwise (Benjamini-Hochberg too is at least that
    strict for a single true effect). None when no d <= 100 points reaches 80 % power (too few
    pairs for the test to reject at that level)."""
    if n <= 0:
        return None
    d = _smallest(lambda d: regression_power(n, *_alternative(d, p_disc), alpha=alpha, min_delta=min_delta))
    return None if d is None else 100.0 * d


def suite_mde(tasks: list[tuple[int, float]], alpha: float, min_delta: float = 0.0) -> float | None:
    """Minimal detectable effect of a suite's macro-average delta, in points, for tasks given
    as (n, p_disc): the smallest regression d, the same in every task, that the suite rule
    (significant at `alpha`, macro delta <= -min_delta) catches with 80 % power.

    `compare` tests the suite with a paired bootstrap; here its normal approximation: the macro
    delta is normal with standard error `macro_delta_se` (each task at `_alternative`'s
    p_lost / p_gained), and is flagged when it falls below -max(z * se, min_delta), z the
    two-sided normal quantile at `alpha` (the regression tail of `normal_power`)."""
    tasks = [(n, q) for n, q in tasks if n > 0]
    if not tasks:
        return None
    z = float(norm.ppf(1 - alpha / 2))

    def power_at(d: float) -> float:
        se = macro_delta_se([(n, *_alternative(d, q)) for n, q in tasks]) / 100.0
        if se <= 0:  # every example flipped: the delta is certain
            return 1.0
        return float(norm.cdf((d - max(z * se, min_delta / 100.0)) / se))

    d = _smallest(power_at)
    return None if d is None else 100.0 * d


def required_n(mde_points: float, p_disc: float, alpha: float = 0.05, power: float = POWER) -> int:
    """Paired examples one task needs for the exact McNemar test at level `alpha` to detect a
    regression of `mde_points` with probability `power`, at discordance rate `p_disc`.

    The normal approximation (Connor 1987), with delta = mde_points / 100 and discordance
    q = max(p_disc, delta):

        n0 = (z_{1-alpha/2} * sqrt(q) + z_{power} * sqrt(q - delta^2))^2 / delta^2

    then the exact test decides: the smallest n from about n0 / 2 upwards whose exact power
    (`mcnemar_power`, regression tail) reaches `power`. The exact power is not monotone in n
    (the binomial rejection region moves in steps), so an n a few above the answer can fall
    a little short; the answer is the first that reaches it."""
    if not 0 < mde_points <= 100:
        raise ValueError(f"mde_points must be in (0, 100] (got {mde_points!r})")
    if not 0 <= p_disc <= 1 or not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("p_disc must be in [0, 1], alpha and power in (0, 1)")
    delta = mde_points / 100.0
    p_lost, p_gained = _alternative(delta, p_disc)
    q = p_lost + p_gained
    z_a, z_b = float(norm.ppf(1 - alpha / 2)), float(norm.ppf(power))
    n0 = (z_a * math.sqrt(q) + z_b * math.sqrt(max(q - delta ** 2, 0.0))) ** 2 / delta ** 2
    n = max(1, int(n0 / 2))
    while regression_power(n, p_lost, p_gained, alpha) < power:
        n += max(1, n // 200)  # steps of 0.5 %: exact to one pair below 200, quick above
    return n
