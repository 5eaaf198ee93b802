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

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest, norm

CORRECTIONS = ("holm", "bh")
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


def mcnemar_power(n: int, p_lost: float, p_gained: float, alpha: float = 0.05) -> float:
    """Exact power of the two-sided exact McNemar test at level `alpha` for n paired
    examples whose per-example probabilities of a lost / gained flip are given.

    Sums over the number of discordant pairs d ~ Binomial(n, p_lost + p_gained); given d,
    lost ~ Binomial(d, p_lost / (p_lost + p_gained)) and the test rejects when
    2 * P(Binomial(d, 1/2) <= min(lost, d - lost)) < alpha.
    """
    from scipy.stats import binom

    p_disc = p_lost + p_gained
    if p_disc == 0:
        return 0.0
    share_lost = p_lost / p_disc
    power = 0.0
    for d in range(1, n + 1):
        k = np.arange(d + 1)
        tail = binom.cdf(np.minimum(k, d - k), d, 0.5)
        reject = np.minimum(1.0, 2 * tail) < alpha
        if not reject.any():
            continue
        power += binom.pmf(d, n, p_disc) * binom.pmf(k[reject], d, share_lost).sum()
    return float(power)


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
