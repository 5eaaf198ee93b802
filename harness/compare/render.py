"""How a `compare` result (harness.compare.comparison.Comparison) is shown: rich tables for a terminal or
a CI log (a long one-line-per-field format when the terminal is too narrow), the same as plain
text for a file, and Markdown for a pull-request comment. The JSON form is the result's own
`to_json()`, since it is the data rather than a view of it."""
from __future__ import annotations

from harness.compare.comparison import (IMPROVED, NO_CHANGE, REGRESSED, Comparison, SuiteComparison,
                                        TaskComparison, points_text)
from harness.display import pct
from harness.terminal import print_fitting

CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg"}
_STYLE = {IMPROVED: "green", REGRESSED: "bold red", NO_CHANGE: "dim"}
_MARK = {IMPROVED: "✅ improved", REGRESSED: "❌ regressed", NO_CHANGE: "no significant change"}


def _interval(ci) -> str:
    return f"[{pct(ci[0], sign=True)}, {pct(ci[1], sign=True)}]"


def _p(p: float) -> str:
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


# what the MDE column means, said once under each table (comparison.py: mde_lines)
MDE_HEADER = "MDE: the regression (points) caught with 80 % power"


def _mde(mde: float | None, compact: bool = False) -> str:
    return "n/a" if mde is None else pct(mde, digits=0 if compact else 1)


_SHORT = {IMPROVED: "improved", REGRESSED: "regressed", NO_CHANGE: "-"}


def _tables(c: Comparison, corr: str, compact: bool) -> list:
    """The suites and tasks tables. `compact`: what fits 80 columns for AGIEval's task
    names -- the variant column only with several variants, task names without their
    suite when there is one suite, corrected p only (the raw one is in --format json),
    short headers (units in the title), "-" for no significant change, no box."""
    from rich.table import Table

    variants = not compact or len({r.variant for r in c.tasks}) > 1
    one_suite = compact and len({t.suite for t in c.tasks}) == 1
    style = {"box": None, "padding": (0, 1), "pad_edge": False} if compact else {}
    h = ({"base": "base", "cand": "cand", "delta": "Δ", "gained": "gain"} if compact else
         {"base": "base %", "cand": "cand %", "delta": "Δ pts", "gained": "gained"})
    units = f"; accuracy %, Δ in points, p {corr}-corrected" if compact else ""
    # compact: p's header without the correction (in the titles) and the MDE in whole points
    # keep AGIEval's task table within 80 columns
    p_adj = "p" if compact else f"p ({corr})"
    suites = Table(title=(f"Suites (macro average; paired bootstrap, {c.bootstrap} resamples, seed {c.seed}{units})"
                          if compact else "Suites (macro average over tasks; paired bootstrap, "
                          f"{c.bootstrap} resamples, seed {c.seed})"), title_justify="left", **style)
    cols = ["variant"] * variants + ["suite", "tasks", "n", h["base"], h["cand"], h["delta"], "95% CI"] + \
        ["p"] * (not compact) + [p_adj, "MDE", "verdict"]
    for col in cols:
        suites.add_column(col, justify="left" if col in ("variant", "suite", "verdict") else "right", no_wrap=True)
    for r in c.suites:
        suites.add_row(*[r.variant] * variants, r.suite, str(r.n_tasks), str(r.n), pct(r.base_accuracy),
                       pct(r.cand_accuracy), pct(r.delta, sign=True), _interval(r.ci95),
                       *[_p(r.p_value)] * (not compact), _p(r.p_adjusted), _mde(r.mde, compact),
                       _SHORT[r.verdict] if compact else r.verdict, style=_STYLE[r.verdict])
    of = f" of {c.tasks[0].suite}" if one_suite and c.tasks else ""
    tasks = Table(title=f"Tasks{of} (exact McNemar, {corr}-corrected over {len(c.tasks)} tests)",
                  title_justify="left", **style)
    cols = ["variant"] * variants + ["task", "n", h["base"], h["cand"], h["delta"], "lost", h["gained"]] + \
        ["p"] * (not compact) + [p_adj, "MDE", "verdict"]
    for col in cols:
        tasks.add_column(col, justify="left" if col in ("variant", "task", "verdict") else "right", no_wrap=True)
    for t in c.tasks:
        tasks.add_row(*[t.variant] * variants, t.task.split("/", 1)[1] if one_suite else t.task, str(t.n),
                      pct(t.base_accuracy), pct(t.cand_accuracy), pct(t.delta, sign=True), str(t.lost),
                      str(t.gained), *[_p(t.p_value)] * (not compact), _p(t.p_adjusted), _mde(t.mde, compact),
                      _SHORT[t.verdict] if compact else t.verdict, style=_STYLE[t.verdict])
    return [suites, tasks]


def print_table(c: Comparison, console=None) -> None:
    """Print the comparison to `console` (a terminal at its width; a pipe or CI log at 80
    columns, or $COLUMNS): the full tables when they fit, else the compact ones, else
    six short lines per suite and task (harness/terminal.py's rule: nothing is ever cut)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.text import Text

    console = console or Console()
    corr = CORRECTION_NAMES[c.correction]
    console.print("[bold]orca-eval compare[/bold]")
    console.print(Text(f"base:      {c.base}\ncandidate: {c.candidate}"), soft_wrap=True)
    used = print_fitting(console, [_tables(c, corr, compact=False), _tables(c, corr, compact=True)],
                         lambda: _long_lines(c, corr))
    if used == "table 1" and any(r.verdict == NO_CHANGE for r in [*c.suites, *c.tasks]):
        console.print("verdict -: no significant change", style="dim")
    if used != "long":
        console.print(f"{MDE_HEADER}; n/a: none at this n", style="dim")
    for note in c.notes:
        console.print(f"note: {escape(note)}")
    console.print(f"[bold]verdict: {c.verdict}[/bold] (alpha {c.alpha:g}, min delta {points_text(c.min_delta)}; "
                  f"{c.gate_message()})", style=_STYLE[c.verdict])
    for line in c.mde_lines():
        console.print(Text(f"MDE: {line}"))


def _long_lines(c: Comparison, corr: str) -> list[str]:
    def block(r: TaskComparison | SuiteComparison, name: str, counts: str, delta: str) -> list[str]:
        # short lines: this is the layout for consoles too narrow for any table (40 columns too)
        return [f"{r.variant} {name}", f"  {r.verdict}", f"  {counts}",
                f"  base {pct(r.base_accuracy)} %, cand {pct(r.cand_accuracy)} %",
                f"  Δ {pct(r.delta, sign=True)} pts{delta}", f"  p {_p(r.p_value)}, p ({corr}) {_p(r.p_adjusted)}",
                f"  MDE (80 % power) {_mde(r.mde)} pts"]

    lines = [f"Suites (macro average over tasks; paired bootstrap, {c.bootstrap} resamples, seed {c.seed})"]
    for s in c.suites:
        lines += block(s, s.suite, f"{s.n_tasks} tasks, n {s.n}", f", 95% CI {_interval(s.ci95)}")
    lines.append(f"Tasks (exact McNemar, {corr}-corrected over {len(c.tasks)} tests)")
    for t in c.tasks:
        lines += block(t, t.task, f"n {t.n}, lost {t.lost}, gained {t.gained}", "")
    return lines


def render_markdown(c: Comparison) -> str:
    """A pull-request comment: verdict, suites, significant tasks, all tasks folded."""
    corr = CORRECTION_NAMES[c.correction]
    lines = [
        f"### orca-eval compare: {_MARK[c.verdict]}",
        "",
        f"Base `{c.base}` → candidate `{c.candidate}`. Significant means {corr}-corrected p < {c.alpha:g}; "
        f"a change counts only when it is also at least {points_text(c.min_delta)}. {c.gate_message()}.",
        "",
        *[f"MDE: {line}." for line in c.mde_lines()],
        "",
        "| variant | suite | tasks | n | base % | cand % | Δ pts | 95% CI | p (corrected) | MDE (80 % power) | verdict |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for s in c.suites:
        lines.append(f"| {s.variant} | {s.suite} | {s.n_tasks} | {s.n} | {pct(s.base_accuracy)} | "
                     f"{pct(s.cand_accuracy)} | {pct(s.delta, sign=True)} | {_interval(s.ci95)} | "
                     f"{_p(s.p_adjusted)} | {_mde(s.mde)} | {_MARK[s.verdict]} |")
    header = ["| variant | task | n | base % | cand % | Δ pts | lost | gained | p | p (corrected) | MDE (80 % power) "
              "| verdict |",
              "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"]

    def row(t: TaskComparison) -> str:
        return (f"| {t.variant} | {t.task} | {t.n} | {pct(t.base_accuracy)} | {pct(t.cand_accuracy)} | "
                f"{pct(t.delta, sign=True)} | {t.lost} | {t.gained} | {_p(t.p_value)} | {_p(t.p_adjusted)} | "
                f"{_mde(t.mde)} | {_MARK[t.verdict]} |")

    significant = [t for t in c.tasks if t.verdict != NO_CHANGE]
    lines += ["", f"**Tasks with a significant change** ({len(significant)} of {len(c.tasks)}; "
                  "lost = base right → candidate wrong, gained = the reverse):", ""]
    lines += (header + [row(t) for t in significant]) if significant else ["None."]
    lines += ["", f"<details><summary>All {len(c.tasks)} tasks</summary>", "", *header,
              *[row(t) for t in c.tasks], "", "</details>"]
    if c.notes:
        lines += ["", *[f"- note: {n}" for n in c.notes]]
    lines += ["", f"<sub>exact McNemar per task; suite Δ = macro average over tasks, paired bootstrap "
                  f"({c.bootstrap} resamples within tasks, seed {c.seed}); repeats: {c.repeats}; MDE = the "
                  "regression in points caught with 80 % power at this n and discordance (docs/compare.md)</sub>", ""]
    return "\n".join(lines)


class _NullWriter:
    def write(self, _s):
        return 0

    def flush(self):
        pass


def render_text(c: Comparison, width: int = 160) -> str:
    """The rich tables rendered to plain text (for files and logs)."""
    from rich.console import Console

    console = Console(width=width, record=True, file=_NullWriter(), color_system=None)
    print_table(c, console)
    return console.export_text()
