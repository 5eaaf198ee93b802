"""Flipped examples between two runs: per task, what one got right and the other wrong
(the paper's "Orca beats ChatGPT" analysis, §6), from the runs' sample files.

Examples pair within a pair of variants -- the same variant name in both runs by default --
by the rule `compare` uses (harness/compare/pairing.py: doc_id, target and user prompt; a different
prompt template is a note). Only the first repeat is used, so runs with --repeats compare
their first sample. Pairing refuses runs that share no examples, and runs in which a doc_id
names a different example (different data).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

from orca.errors import UserError
from orca.io import write_jsonl_atomic
from harness.compare.pairing import first_repeats, pair_examples, rows_by_doc, template_note
from harness.results import RunResult, task_file_name


@dataclass
class TaskFlips:
    """Counts for one task and variant pair."""

    task: str
    variant_a: str
    variant_b: str
    shared: int = 0
    both_right: int = 0
    a_only: int = 0  # A right, B wrong
    b_only: int = 0  # B right, A wrong
    both_wrong: int = 0
    only_in_a: int = 0  # examples A has and B lacks (e.g. a --limit run)
    only_in_b: int = 0


@dataclass
class FlipReport:
    run_a: str
    run_b: str
    metric: str  # "correct" (robust extractor) or "correct_official"
    tasks: list[TaskFlips] = field(default_factory=list)
    flips: list[dict] = field(default_factory=list)  # one row per flipped example
    notes: list[str] = field(default_factory=list)

    def total(self, attr: str) -> int:
        return sum(getattr(t, attr) for t in self.tasks)


def variant_pairs(run_a: RunResult, run_b: RunResult, variant_a: str | None = None,
                  variant_b: str | None = None) -> list[tuple[str, str]]:
    """Which variants to pair: the given ones, else every shared name, else the only one of each."""
    for run, v in ((run_a, variant_a), (run_b, variant_b)):
        if v is not None and v not in run.variants:
            raise UserError(f"{run.path}: no variant {v!r} (has: {', '.join(run.variants) or 'none'})")
    if variant_a or variant_b:
        va = variant_a or (variant_b if variant_b in run_a.variants else None)
        vb = variant_b or (variant_a if variant_a in run_b.variants else None)
        if va is None or vb is None:
            raise UserError("give both --variant-a and --variant-b when the variant names differ")
        return [(va, vb)]
    shared = [v for v in run_a.variants if v in run_b.variants]
    if shared:
        return [(v, v) for v in shared]
    if len(run_a.variants) == 1 and len(run_b.variants) == 1:
        return [(run_a.variants[0], run_b.variants[0])]
    raise UserError(f"the runs share no system-message variant ({run_a.name}: {', '.join(run_a.variants)}; "
                    f"{run_b.name}: {', '.join(run_b.variants)}); pick a pair with --variant-a/--variant-b")


def _system_message(run: RunResult, variant: str):
    return ((run.meta.get("variants") or {}).get(variant) or {}).get("system_message")


def find_flips(run_a: RunResult, run_b: RunResult, variant_a: str | None = None, variant_b: str | None = None,
               official: bool = False) -> FlipReport:
    """Pair the two runs' examples and collect the flips, per task, both directions."""
    if not run_a.samples or not run_b.samples:
        raise UserError("flips need the runs' samples: load them with load_run(dir, with_samples=True)")
    metric = "correct_official" if official else "correct"
    report = FlipReport(run_a=run_a.name, run_b=run_b.name, metric=metric)
    template_counts: dict[str, int] = {}
    for va, vb in variant_pairs(run_a, run_b, variant_a, variant_b):
        tasks_a, tasks_b = run_a.samples.get(va, {}), run_b.samples.get(vb, {})
        for task in sorted(set(tasks_a) & set(tasks_b)):
            a = first_repeats(rows_by_doc(tasks_a[task], run_a.path / "samples" / va / task_file_name(task)))
            b = first_repeats(rows_by_doc(tasks_b[task], run_b.path / "samples" / vb / task_file_name(task)))
            pairing = pair_examples(a, b, rendered_comparable=_system_message(run_a, va) == _system_message(run_b, vb))
            if pairing.changed:
                raise UserError(
                    f"{task}: {pairing.describe_changed()}, e.g. doc_id {next(iter(pairing.changed))}, between "
                    f"{run_a.name} and {run_b.name}: not the same examples, refusing to pair them")
            if pairing.template_differs:
                template_counts[f"{va}:{task}"] = pairing.template_differs
            tf = TaskFlips(task, va, vb, only_in_a=len(pairing.only_a), only_in_b=len(pairing.only_b))
            for doc in pairing.common:
                ra, rb = a[doc], b[doc]
                ca, cb = bool(ra.get(metric)), bool(rb.get(metric))
                tf.shared += 1
                if ca and cb:
                    tf.both_right += 1
                elif not ca and not cb:
                    tf.both_wrong += 1
                else:
                    if ca:
                        tf.a_only += 1
                    else:
                        tf.b_only += 1
                    report.flips.append({
                        "task": task, "doc_id": doc, "variant": va if va == vb else f"{va} vs {vb}",
                        "variant_a": va, "variant_b": vb, "right": "a" if ca else "b",
                        "run_a": run_a.name, "run_b": run_b.name, "target": ra["target"],
                        "a_extracted": ra.get("extracted_official" if official else "extracted"),
                        "b_extracted": rb.get("extracted_official" if official else "extracted"),
                        "a_output": ra.get("output"), "b_output": rb.get("output"),
                        "a_prompt_sha": ra.get("prompt_sha"), "b_prompt_sha": rb.get("prompt_sha"),
                    })
            if tf.shared or tf.only_in_a or tf.only_in_b:
                report.tasks.append(tf)
    note = template_note(template_counts)
    if note:
        report.notes.append(note)
    if report.total("shared") == 0:
        raise UserError(f"{run_a.path} and {run_b.path} share no examples (no task and doc_id in common for "
                        f"the paired variants), so there is nothing to compare")
    return report


def write_flips_jsonl(report: FlipReport, path) -> None:
    """All flipped examples, one JSON object a line (atomic write)."""
    write_jsonl_atomic(path, report.flips)


_HEADERS = ["task", "variant", "shared", "both right", "A only", "B only", "both wrong", "share of A-only",
            "share of B-only"]


def _rows(report: FlipReport) -> list[list[str]]:
    a_total, b_total = report.total("a_only"), report.total("b_only")
    out = []
    for t in report.tasks:
        variant = t.variant_a if t.variant_a == t.variant_b else f"{t.variant_a} vs {t.variant_b}"
        out.append([t.task, variant, str(t.shared), str(t.both_right), str(t.a_only), str(t.b_only),
                    str(t.both_wrong), f"{100 * t.a_only / a_total:.0f} %" if a_total else "—",
                    f"{100 * t.b_only / b_total:.0f} %" if b_total else "—"])
    out.append(["total", "", str(report.total("shared")), str(report.total("both_right")), str(a_total),
                str(b_total), str(report.total("both_wrong")), "100 %" if a_total else "—",
                "100 %" if b_total else "—"])
    return out


def _caption(report: FlipReport) -> str:
    extractor = "official extractor" if report.metric == "correct_official" else "robust extractor"
    text = (f"A = {report.run_a}, B = {report.run_b} ({extractor}). 'A only': A right and B wrong. "
            f"Flipped examples: {len(report.flips)}.")
    unpaired = report.total("only_in_a") + report.total("only_in_b")
    if unpaired:
        text += (f" Not paired: {report.total('only_in_a')} examples only in A, "
                 f"{report.total('only_in_b')} only in B.")
    for note in report.notes:
        text += f" Note: {note}."
    return text


def render_flips_markdown(report: FlipReport) -> str:
    lines = ["| " + " | ".join(_HEADERS) + " |", "|---|---|" + "---:|" * (len(_HEADERS) - 2)]
    for row in _rows(report):
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n\n" + _caption(report) + "\n"


def flips_rich_table(report: FlipReport):
    from rich.table import Table

    table = Table(title=f"Flipped examples: {report.run_a} (A) vs {report.run_b} (B)", title_justify="left",
                  caption=_caption(report), caption_justify="left")
    for i, h in enumerate(_HEADERS):
        table.add_column(h, justify="left" if i < 2 else "right", no_wrap=i == 0)
    rows = _rows(report)
    for i, row in enumerate(rows):
        if i == len(rows) - 1:
            table.add_section()
        table.add_row(*row)
    return table


def flips_lines(report: FlipReport) -> list[str]:
    """The flips table as a long format for narrow terminals: per task two short lines."""
    lines = [f"Flipped examples: {report.run_a} (A) vs {report.run_b} (B)"]
    for row in _rows(report):
        task, variant, shared, right, a_only, b_only, wrong, share_a, share_b = row
        lines += [f"{task} {variant}".rstrip(),
                  f"  shared {shared}: both right {right}, both wrong {wrong}",
                  f"  A only {a_only} ({share_a}), B only {b_only} ({share_b})"]
    return lines + [_caption(report)]


def render_flips_text(report: FlipReport, width: int = 160) -> str:
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, color_system=None, highlight=False).print(flips_rich_table(report))
    return buf.getvalue()
