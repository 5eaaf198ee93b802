"""Regression comparison of two runs over the same examples (a CI gate).

`compare_runs(base_dir, cand_dir)` pairs the per-example outcomes (`correct` in
`samples/VARIANT/SUITE__TASK.jsonl`) of two finished runs by example (harness/compare/pairing.py:
doc_id, target and user prompt, as `report --flips` does) and reports, per
task, the exact McNemar test with a Holm or Benjamini-Hochberg correction across all
compared tasks, and, per suite, the macro-average delta with a paired bootstrap interval.

Definitions (also in docs/compare.md):

- delta: candidate minus base accuracy in percentage points, over the paired examples.
- A task *regressed* when its corrected McNemar p < alpha and delta <= -min_delta;
  *improved* when corrected p < alpha and delta >= +min_delta; otherwise *no significant
  change* (a significant change smaller than min_delta included).
- A suite *regressed* when its corrected bootstrap p < alpha (the suites x variants
  compared form their own correction family) and its macro delta <= -min_delta;
  *improved* symmetrically.
- Overall: *regressed* if any task or suite regressed, else *improved* if any improved,
  else *no significant change*. `exit_code(fail_on_regression=True)` is 1 exactly when the
  overall verdict is *regressed*.
- MDE (minimal detectable effect): per task and per suite, the smallest true regression in
  points that the rule above flags with 80 % power, given the compared n and the observed
  discordance (harness.compare.stats.task_mde / suite_mde; tasks at the conservative level alpha / m over
  the m task tests, suites at alpha / m over the suite tests). `mde_lines()` says it in words.
- Repeats: `repeats="first"` compares repeat 0 of each example (what summary.json counts as
  `correct`); `repeats="majority"` compares each example's majority outcome over its repeats
  (a tie counts as wrong).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orca.errors import UserError
from harness.compare.comparison import (IMPROVED, NO_CHANGE, REGRESSED, Comparison, SuiteComparison,
                                        TaskComparison)
from harness.compare.pairing import (Pairing, first_repeats, pair_examples, pair_variants, rows_by_doc,
                                     template_note)
from harness.compare.stats import (CORRECTIONS, PairedCounts, adjust_pvalues, bootstrap_macro_delta, mcnemar_exact,
                                   paired_counts, suite_mde, task_mde)
from harness.compare.thresholds import CompareThresholds
from harness.results import RunResult, load_run, task_file_name
from orca.values import check_number, check_seed

REPEAT_POLICIES = ("first", "majority")
# 10^6 resamples: a p-value resolution of 1e-6 and ~30 MB per task; 10^9 was killed for memory.
MAX_BOOTSTRAP = 1_000_000


# ---------------------------------------------------------------- loading and pairing

@dataclass
class _Outcome:
    correct: bool
    row: dict  # the example's first repeat: what pairing (pairing.py) looks at


def _outcomes(run: RunResult, variant: str, task: str, repeats: str) -> dict[int, _Outcome]:
    """doc_id -> the outcome to compare, per the repeat policy; refuses duplicate rows."""
    where = run.path / "samples" / variant / task_file_name(task)
    by_doc = rows_by_doc(run.samples.get(variant, {}).get(task, []), where)
    for doc, reps in by_doc.items():
        for r in reps.values():
            if not isinstance(r["correct"], bool):
                raise UserError(f"{where}: doc_id {doc}: field 'correct' must be true or false "
                                f"(got {r['correct']!r})")
    out = {}
    for doc, first in first_repeats(by_doc).items():
        reps = by_doc[doc]
        if repeats == "first":
            correct = bool(first["correct"])
        else:
            correct = 2 * sum(bool(r["correct"]) for r in reps.values()) > len(reps)
        out[doc] = _Outcome(correct, first)
    return out


def _resolve_variant(name: str) -> str:
    return f"sm{name}" if name.isdigit() else name


def _check_setup(base: RunResult, cand: RunResult, variants: list[str]) -> list[str]:
    """Refuse two runs whose prompts cannot be the same; return notes on softer differences."""
    for key, what in (("mode", "mode"), ("prompt_style", "prompt style")):
        a, b = base.meta.get(key), cand.meta.get(key)
        if a != b:
            raise UserError(f"cannot compare: {what} differs (base {base.path}: {a!r}, candidate "
                            f"{cand.path}: {b!r}); evaluate both with the same --{key.replace('_', '-')}")
    for v in variants:
        a = (base.meta.get("variants") or {}).get(v, {}).get("system_message")
        b = (cand.meta.get("variants") or {}).get(v, {}).get("system_message")
        if a != b:
            raise UserError(f"cannot compare: variant {v!r} has a different system message in the two "
                            f"runs (base {_short(a)}, candidate {_short(b)})")
    notes = []
    dec_a, dec_b = base.meta.get("decoding") or {}, cand.meta.get("decoding") or {}
    diffs = [f"{k} {dec_a.get(k)!r} vs {dec_b.get(k)!r}" for k in sorted(set(dec_a) | set(dec_b))
             if dec_a.get(k) != dec_b.get(k)]
    if diffs:
        notes.append("decoding differs: " + ", ".join(diffs))
    # the numeric type changes outputs too (runs before --dtype recorded none: float32 then)
    dt_a, dt_b = ((r.meta.get("model") or {}).get("dtype") for r in (base, cand))
    if dt_a != dt_b and (dt_a or dt_b):
        notes.append(f"dtype differs: {dt_a or 'unrecorded'} vs {dt_b or 'unrecorded'} (the same model can answer "
                     "differently; a regression test between them also tests the precision)")
    hashes_a = (base.meta.get("data") or {}).get("hashes") or {}
    hashes_b = (cand.meta.get("data") or {}).get("hashes") or {}
    changed = sorted(t for t in set(hashes_a) & set(hashes_b) if hashes_a[t] != hashes_b[t])
    if changed:
        notes.append(f"data files differ for {', '.join(changed)} (examples were matched one by one by "
                     "doc_id, prompt and target)")
    fp_a = (base.meta.get("model") or {}).get("fingerprint")
    if fp_a and fp_a == (cand.meta.get("model") or {}).get("fingerprint"):
        notes.append(f"both runs evaluated the same checkpoint (fingerprint {fp_a})")
    return notes


def _short(text) -> str:
    if text is None:
        return "none"
    text = str(text).replace("\n", " ")
    return repr(text if len(text) <= 40 else text[:37] + "...")


def compare_runs(base_dir: str | Path, cand_dir: str | Path, alpha: float = CompareThresholds.alpha,
                 min_delta: float = CompareThresholds.min_delta,
                 correction: str = "holm", intersection: bool = False, variants: list[str] | None = None,
                 bootstrap: int = 10_000, seed: int = 0, repeats: str = "first") -> Comparison:
    """Compare a candidate run with a base run over the same examples.

    Raises UserError (one line) when the runs cannot be compared: different examples,
    tasks or variants (unless `intersection`), or a different mode, prompt style or
    system message (always: intersecting examples cannot make different prompts comparable).
    """
    CompareThresholds(alpha, min_delta).check()
    check_seed(seed)
    if correction not in CORRECTIONS:
        raise UserError(f"--correction must be one of {', '.join(CORRECTIONS)} (got {correction!r})")
    # The bootstrap holds `bootstrap` draws per task in memory: cap it well below what exhausts RAM.
    check_number(bootstrap, "--bootstrap", integer=True, low=100, high=MAX_BOOTSTRAP)
    if repeats not in REPEAT_POLICIES:
        raise UserError(f"--repeats must be one of {', '.join(REPEAT_POLICIES)} (got {repeats!r})")

    base, cand = load_run(base_dir), load_run(cand_dir)
    pairs, notes = pair_variants(base, cand, across_names=False, intersection=intersection,
                                 requested=[_resolve_variant(v) for v in variants] if variants else None)
    chosen = [v for v, _ in pairs]
    notes += _check_setup(base, cand, chosen)
    result = Comparison(base=str(base.path), candidate=str(cand.path), alpha=alpha, min_delta=min_delta,
                        correction=correction, bootstrap=bootstrap, seed=seed, repeats=repeats,
                        intersection=intersection, notes=notes)

    template_counts: dict[str, int] = {}
    for v in chosen:
        ta, tb = base.samples.get(v, {}), cand.samples.get(v, {})
        only = sorted(set(ta) ^ set(tb))
        if only and not intersection:
            raise UserError(f"cannot compare: variant {v!r} covers different tasks (only in one run: "
                            f"{', '.join(only[:5])}{' ...' if len(only) > 5 else ''}); pass --intersection")
        if only:
            result.notes.append(f"{v}: tasks only in one run, not compared: {', '.join(only)}")
        for task in sorted(set(ta) & set(tb)):
            tc, pairing = _compare_task(base, cand, v, task, repeats, intersection)
            if pairing.template_differs:
                template_counts[f"{v}:{task}"] = pairing.template_differs
            if tc is None:
                result.notes.append(f"{v}:{task}: no examples in common, not compared")
            else:
                result.tasks.append(tc)
    if not result.tasks:
        raise UserError("cannot compare: the two runs have no scored examples in common")
    note = template_note(template_counts)
    if note:
        result.notes.append(note)
    if result.dropped:
        result.notes.append(f"--intersection dropped {result.dropped} example(s) not shared by both runs")
    if any(int(row.get("repeat", 0) or 0) > 0 for run in (base, cand) for v in chosen
           for rows in run.samples.get(v, {}).values() for row in rows):
        result.notes.append("runs have repeats: compared " +
                            ("repeat 0 of each example" if repeats == "first" else "each example's majority outcome"))

    adjusted = adjust_pvalues([t.p_value for t in result.tasks], correction)
    for t, p_adj in zip(result.tasks, adjusted):
        t.p_adjusted = float(p_adj)
        t.verdict = _verdict(t.p_adjusted, t.delta, alpha, min_delta)
        # Holm's first step: one regressed task among m must reach p < alpha / m
        t.mde = task_mde(t.n, t.discordance, alpha / len(result.tasks), min_delta)

    for v in chosen:
        for suite in sorted({t.suite for t in result.tasks if t.variant == v}):
            tasks = [t for t in result.tasks if t.variant == v and t.suite == suite]
            # one stream per (variant, suite) so a suite's interval does not depend on what else is compared
            stream = np.random.SeedSequence([seed, zlib.crc32(f"{v}/{suite}".encode())])
            boot = bootstrap_macro_delta([PairedCounts(t.n, t.lost, t.gained) for t in tasks],
                                         resamples=bootstrap, seed=stream, level=0.95)
            result.suites.append(SuiteComparison(
                variant=v, suite=suite, n_tasks=len(tasks), n=sum(t.n for t in tasks),
                base_accuracy=sum(t.base_accuracy for t in tasks) / len(tasks),
                cand_accuracy=sum(t.cand_accuracy for t in tasks) / len(tasks),
                delta=boot.delta, ci95=(boot.ci_low, boot.ci_high), p_value=boot.p_value,
                discordance=sum(t.lost + t.gained for t in tasks) / sum(t.n for t in tasks)))
    adjusted = adjust_pvalues([s.p_value for s in result.suites], correction)
    for s, p_adj in zip(result.suites, adjusted):
        s.p_adjusted = float(p_adj)
        s.verdict = _verdict(s.p_adjusted, s.delta, alpha, min_delta)
        tasks = [t for t in result.tasks if t.variant == s.variant and t.suite == s.suite]
        s.mde = suite_mde([(t.n, t.discordance) for t in tasks], alpha / len(result.suites), min_delta)
    return result


def _compare_task(base: RunResult, cand: RunResult, variant: str, task: str, repeats: str,
                  intersection: bool) -> tuple[TaskComparison | None, Pairing]:
    a, b = _outcomes(base, variant, task, repeats), _outcomes(cand, variant, task, repeats)
    pairing = pair_examples({d: o.row for d, o in a.items()}, {d: o.row for d, o in b.items()})
    only_a, only_b, changed = pairing.only_a, pairing.only_b, sorted(pairing.changed)
    if (only_a or only_b or changed) and not intersection:
        raise UserError(f"cannot compare {variant}:{task}: {_difference(base, cand, pairing)}; "
                        "pass --intersection to compare the shared examples only")
    common = pairing.common
    if not common:
        return None, pairing
    base_ok = [a[d].correct for d in common]
    cand_ok = [b[d].correct for d in common]
    counts = paired_counts(base_ok, cand_ok)
    return TaskComparison(variant=variant, task=task, n=counts.n, base_correct=sum(base_ok),
                          cand_correct=sum(cand_ok), lost=counts.lost, gained=counts.gained,
                          p_value=mcnemar_exact(counts.lost, counts.gained),
                          dropped=len(only_a) + len(only_b) + len(changed)), pairing


def _difference(base: RunResult, cand: RunResult, pairing: Pairing) -> str:
    """Why two runs' examples of a task differ, naming the likely cause."""
    parts = []
    if pairing.only_a or pairing.only_b:
        limits = f" (--limit: base {base.meta.get('limit')}, candidate {cand.meta.get('limit')})" \
            if base.meta.get("limit") != cand.meta.get("limit") else ""
        parts.append(f"{len(pairing.only_a)} doc_id(s) only in base, {len(pairing.only_b)} only in candidate"
                     f"{limits}, e.g. doc_id {(pairing.only_a or pairing.only_b)[0]}")
    if pairing.changed:
        parts.append(pairing.describe_changed() + f", e.g. doc_id {next(iter(pairing.changed))}")
    return "; ".join(parts)


def _verdict(p_adjusted: float, delta: float, alpha: float, min_delta: float) -> str:
    # a small epsilon so a delta of exactly -min_delta (e.g. -1.0 from float sums) counts
    if p_adjusted < alpha and delta <= -min_delta + 1e-9:
        return REGRESSED
    if p_adjusted < alpha and delta >= min_delta - 1e-9:
        return IMPROVED
    return NO_CHANGE
