"""The system-message ablation of one run (the paper's figure of accuracy per system message):
per variant its accuracy with a 95 % interval, and each variant against the base variant
(`sm1`, the paper's empty system message), paired per example and corrected for multiplicity.

- accuracy: pooled over the suite's examples (correct / n; every example weighs the same,
  where the leaderboard's suite average weighs every task the same -- equal on a stratified
  subset with the same n per task, the ablation's design);
- interval: the 95 % Wilson score interval of that proportion (harness.results.wilson_ci95,
  the interval summary.json gives each task), which stays inside [0, 100] and keeps its
  coverage at small n, where the normal interval does not;
- comparison: every example pairs with itself under the base variant (harness.compare.pairing: same
  doc_id, target and user prompt), so only the discordant pairs carry the difference: the
  exact McNemar test on the pooled lost / gained counts (harness.compare.stats.mcnemar_exact);
- multiplicity: Holm over the k - 1 comparisons of one run and suite (family-wise error at
  `alpha`); "helps" / "hurts" only where the adjusted p is below `alpha`.

Repeats: the first repeat of each example, as `compare` and `report --flips` pair them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from orca.errors import UserError
from harness.compare.pairing import first_repeats, pair_examples, rows_by_doc
from harness.report.model import suite_sort_key, suite_title
from harness.results import RunResult, load_run, wilson_ci95
from harness.compare.stats import adjust_pvalues, mcnemar_exact

BASE_VARIANT = "sm1"  # the paper's evaluation default: the empty system message
ALPHA = 0.05
HELPS, HURTS, NO_DIFFERENCE, BASELINE = "helps", "hurts", "no significant difference", "baseline"


@dataclass
class VariantRow:
    variant: str
    n: int
    correct: int
    accuracy: float  # percent, pooled over the suite's examples
    ci: tuple[float, float]  # 95 % Wilson, percent
    paired: int = 0  # examples paired with the base variant
    lost: int = 0  # right under the base variant, wrong under this one
    gained: int = 0
    p: float | None = None  # exact McNemar, two-sided
    p_adjusted: float | None = None  # Holm over the run's comparisons in this suite
    verdict: str = BASELINE

    @property
    def delta(self) -> float | None:
        """This variant minus the base, in points, over the paired examples."""
        return None if self.p is None or not self.paired else 100.0 * (self.gained - self.lost) / self.paired


@dataclass
class Ablation:
    run: str  # the run's display name
    suite: str
    base: str
    rows: list[VariantRow]
    notes: list[str] = field(default_factory=list)
    alpha: float = ALPHA

    @property
    def title(self) -> str:
        return f"System-message ablation: {self.run}, {suite_title(self.suite)}"


def _first_rows(run: RunResult, variant: str, suite: str) -> dict[str, dict[int, dict]]:
    """task -> doc_id -> the example's first-repeat row, for one variant's tasks in `suite`."""
    out = {}
    for task, rows in sorted(run.samples.get(variant, {}).items()):
        if task.split("/", 1)[0] == suite:
            where = run.path / "samples" / variant
            out[task] = first_repeats(rows_by_doc(rows, where))
    return out


def suite_ablation(run: RunResult, label: str, suite: str, alpha: float = ALPHA,
                   correction: str = "holm") -> Ablation | None:
    """The ablation of one suite of a run read with its samples; None with fewer than two
    variants that have tasks of the suite."""
    per_variant = {v: _first_rows(run, v, suite) for v in run.variants}
    variants = [v for v in run.variants if per_variant[v]]
    if len(variants) < 2:
        return None
    base = BASE_VARIANT if BASE_VARIANT in variants else variants[0]
    notes = [] if base == BASE_VARIANT else [
        f"no {BASE_VARIANT} variant (the paper's empty system message): compared with {base}, the run's first"]
    rows = []
    unpaired = changed = 0
    for v in [base] + [v for v in variants if v != base]:
        examples = [r for docs in per_variant[v].values() for r in docs.values()]
        correct = sum(bool(r["correct"]) for r in examples)
        n = len(examples)
        lo, hi = wilson_ci95(correct, n)
        row = VariantRow(v, n, correct, 100.0 * correct / n if n else 0.0, (lo, hi))
        if v != base:
            for task, docs in per_variant[v].items():
                base_docs = per_variant[base].get(task, {})
                # different system messages: the rendered prompts differ by design, the user prompts must not
                pairing = pair_examples(base_docs, docs, rendered_comparable=False)
                unpaired += len(pairing.only_a) + len(pairing.only_b)
                changed += len(pairing.changed)
                for doc in pairing.common:
                    a, b = bool(base_docs[doc]["correct"]), bool(docs[doc]["correct"])
                    row.paired += 1
                    row.lost += a and not b
                    row.gained += b and not a
            unpaired += sum(len(d) for t, d in per_variant[base].items() if t not in per_variant[v])
            row.p = mcnemar_exact(row.lost, row.gained)
        rows.append(row)
    tested = [r for r in rows if r.p is not None]
    for r, adj in zip(tested, adjust_pvalues([r.p for r in tested], correction)):
        r.p_adjusted = float(adj)
        r.verdict = NO_DIFFERENCE if adj >= alpha or r.gained == r.lost else (HELPS if r.gained > r.lost else HURTS)
    if unpaired:
        notes.append(f"{unpaired} example(s) without a partner under {base} (summed over the comparisons; other tasks "
                     "or --limit): not in the deltas")
    if changed:
        notes.append(f"{changed} example(s) whose target or user prompt differs between variants: not paired")
    return Ablation(label, suite, base, rows, notes, alpha)


def run_ablations(run: RunResult, label: str, alpha: float = ALPHA) -> list[Ablation]:
    """One `Ablation` per suite of a run with several variants (its samples are read here
    when `run` was loaded without them); a run whose samples cannot be read gets a note."""
    if len(run.variants) < 2:
        return []
    if not run.samples:
        try:
            run = load_run(run.path)
        except UserError as e:
            return [Ablation(label, "", "", [], [f"not computed: {e}"], alpha)]
    suites = sorted({t.split("/", 1)[0] for v in run.variants for t in run.samples.get(v, {})},
                    key=suite_sort_key)
    return [a for a in (suite_ablation(run, label, s, alpha) for s in suites) if a is not None]


# --------------------------------------------------------------------------- cell text

HEADER = ["variant", "n", "accuracy", "95% CI", "Δ vs {base}", "lost/gained", "Holm p", "verdict"]


def fmt_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def header(ab: Ablation) -> list[str]:
    return [h.format(base=ab.base) for h in HEADER]


def table_cells(ab: Ablation) -> list[list[str]]:
    """The ablation table as text, one list per variant (base first), every renderer's rows."""
    from harness.report.cells import fmt

    out = []
    for r in ab.rows:
        d = r.delta
        out.append([r.variant, str(r.n), fmt(r.accuracy), f"[{fmt(r.ci[0])}, {fmt(r.ci[1])}]",
                    "—" if d is None else f"{d:+.1f}", "—" if r.p is None else f"{r.lost}/{r.gained}",
                    fmt_p(r.p_adjusted), r.verdict])
    return out


def method_note(ab: Ablation) -> str:
    k = len(ab.rows) - 1
    return (f"Accuracy pooled over the suite's examples, 95% Wilson interval; Δ: paired per example against "
            f"{ab.base} (lost = right under {ab.base} only); exact McNemar test, Holm-adjusted over the {k} "
            f"comparison(s); helps / hurts where adjusted p < {ab.alpha:g}.")
