"""Matplotlib figures for the HTML leaderboard, rendered off-screen (Agg) to PNG bytes
that the page embeds as data: URIs."""
from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # headless: no display, no GUI toolkit
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

COMPARE_WITH = ("ChatGPT", "GPT-4", "Vicuna-13B", "Orca-13B")  # the paper's figures' baselines
COLORS = {"ChatGPT": "#74aa9c", "GPT-4": "#3b4a6b", "Vicuna-13B": "#c98b4a", "Orca-13B": "#9c6ade"}
RUN_COLOR = "#1f6fd1"
PARTIAL_FILL = "#dbe8f8"  # RUN_COLOR, much lighter: a --limit run in the ranking figure
DPI = 80


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    # no Software/timestamp metadata, so the same figures give the same bytes
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, bbox_inches="tight")
    return buf.getvalue()


def _run_columns(s, run_index: int):
    return [c for c in s.columns if c.key.startswith(f"run{run_index}:")]


def primary_column(s, run_index: int):
    """The run's column the per-task figure shows: `sm1` (the paper's default, the empty
    system message) when the run has it, else its first variant."""
    cols = [c for c in _run_columns(s, run_index) if c.kind == "run"]
    return next((c for c in cols if c.variant == "sm1"), cols[0] if cols else None)


def task_bars_png(s, run_index: int) -> tuple[bytes | None, str | None]:
    """Per-task grouped horizontal bars: the run against ChatGPT, GPT-4, Vicuna-13B and
    Orca-13B (as in the paper's per-task figures). Returns (png, variant shown)."""
    col = primary_column(s, run_index)
    if col is None:
        return None, None
    refs = [c for name in COMPARE_WITH for c in s.columns if c.kind == "reference" and c.label == name]
    series = refs + [col]
    tasks = [t for t in s.tasks if t in col.scores]
    if not tasks:
        return None, None
    height = max(2.5, 0.22 * len(tasks) * len(series) / 2 + 1.2)
    fig = Figure(figsize=(8.5, height))
    ax = fig.add_subplot()
    bar = 0.8 / len(series)
    for j, c in enumerate(series):
        ys = [i + (j - (len(series) - 1) / 2) * bar for i in range(len(tasks))]
        xs = [c.scores.get(t, 0.0) for t in tasks]
        color = RUN_COLOR if c is col else COLORS.get(c.label, "#999999")
        ax.barh(ys, xs, height=bar, label=c.label, color=color, edgecolor="white", linewidth=0.3)
    ax.set_yticks(range(len(tasks)))
    ax.set_yticklabels([s.labels[t] for t in tasks], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("accuracy (%)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"{s.title}: {col.label}", fontsize=9, pad=22)
    # legend above the axes, so it never covers bars
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=min(5, len(series)), frameon=False)
    return _png(fig), col.variant


def sensitivity_png(comp, run_index: int) -> bytes | None:
    """Suite average per system-message variant (best-SM hatched), one bar group per suite,
    like the paper's figure of Orca's score per system message."""
    groups = []
    for s in comp.suites:
        cols = [c for c in _run_columns(s, run_index) if s.average(c)[0] is not None]
        if cols:
            groups.append((s, cols))
    if not groups:
        return None
    variants = []
    for _, cols in groups:
        for c in cols:
            name = c.variant or "best-SM"
            if name not in variants:
                variants.append(name)
    fig = Figure(figsize=(max(4.5, 0.55 * len(variants) * len(groups) + 2.5), 3.2))
    ax = fig.add_subplot()
    width = 0.8 / len(groups)
    palette = ["#1f6fd1", "#e07b39", "#3a9d5d", "#b03a6f"]
    for g, (s, cols) in enumerate(groups):
        by_name = {(c.variant or "best-SM"): c for c in cols}
        xs, hs, hatches = [], [], []
        for i, v in enumerate(variants):
            if v in by_name:
                xs.append(i + (g - (len(groups) - 1) / 2) * width)
                hs.append(s.average(by_name[v])[0])
                hatches.append("//" if v == "best-SM" else "")
        bars = ax.bar(xs, hs, width=width, color=palette[g % len(palette)],
                      label=f"{s.suite} ({len(s.reference_tasks)} tasks)")
        for b, h, hatch in zip(bars, hs, hatches):
            b.set_hatch(hatch)
            ax.annotate(f"{h:.1f}", (b.get_x() + b.get_width() / 2, h), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(variants)))
    ax.set_xticklabels(variants, fontsize=8)
    ax.set_ylabel("average accuracy (%)")
    top = max(s.average(c)[0] for s, cols in groups for c in cols)
    ax.set_ylim(0, min(100, top * 1.2 + 5))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"{groups[0][1][0].source}: score per system message", fontsize=9)
    return _png(fig)


def ranking_png(s, entries) -> bytes | None:
    """Horizontal bars of each entry's average with its 95% interval as an error bar;
    `--limit` runs (listed, not ranked: model.leaderboard_entries) light and hatched."""
    shown = [e for e in entries if e.average is not None]
    if not shown:
        return None
    fig = Figure(figsize=(7.5, max(2.0, 0.3 * len(shown) + 1.0)))
    ax = fig.add_subplot()
    ys = list(range(len(shown)))
    vals = [e.average for e in shown]
    colors = [RUN_COLOR if e.column.is_run else COLORS.get(e.column.label, "#9aa5b5") for e in shown]
    lo = [e.average - e.interval[0] if e.interval else 0 for e in shown]
    hi = [e.interval[1] - e.average if e.interval else 0 for e in shown]
    bars = ax.barh(ys, vals, color=colors, xerr=[lo, hi], error_kw={"elinewidth": 1, "capsize": 2})
    partial = [e.column.partial for e in shown]
    for b, color, is_partial in zip(bars, colors, partial):
        if is_partial:  # a sample's average: visibly not one of the ranked bars
            b.set(facecolor=PARTIAL_FILL, edgecolor=color, hatch="///", linewidth=0.8)
    ax.set_yticks(ys)
    ax.set_yticklabels([e.column.label + (" (partial, not ranked)" if e.column.partial else "") for e in shown],
                       fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"average accuracy over {len(s.reference_tasks)} tasks (%)")
    ax.grid(axis="x", alpha=0.3)
    if any(partial):
        key = Patch(facecolor=PARTIAL_FILL, edgecolor=RUN_COLOR, hatch="///", linewidth=0.8,
                    label="partial (--limit: first N examples per task), not ranked")
        ax.legend(handles=[key], fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return _png(fig)


def partial_coverage_png(s, entries) -> bytes | None:
    """Per run covering part of a suite, its average beside the references' averages over
    the same tasks: one bar group per run, so nothing here reads as a rank among full runs."""
    shown = [e for e in entries if e.average is not None]
    if not shown:
        return None
    names = []
    for e in shown:
        names += [n for n, _ in e.references if n in COMPARE_WITH and n not in names]
    series = ["run"] + names
    fig = Figure(figsize=(7.5, max(2.0, 0.2 * len(shown) * len(series) + 1.2)))
    ax = fig.add_subplot()
    bar = 0.8 / len(series)
    for j, name in enumerate(series):
        ys = [i + (j - (len(series) - 1) / 2) * bar for i in range(len(shown))]
        xs = [e.average if name == "run" else dict(e.references).get(name, 0.0) for e in shown]
        ax.barh(ys, xs, height=bar, color=RUN_COLOR if name == "run" else COLORS.get(name, "#999999"),
                label="the run" if name == "run" else f"{name}, same tasks")
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels([f"{e.column.label} ({len(e.tasks)}/{len(s.reference_tasks)})" for e in shown], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("average accuracy over the run's own tasks (%)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=min(5, len(series)), frameon=False)
    return _png(fig)


VERDICT_COLORS = {"baseline": RUN_COLOR, "helps": "#2e8b57", "hurts": "#c0392b", "no significant difference": "#7a8494"}


def ablation_png(ab) -> bytes | None:
    """Accuracy per system message with its 95 % Wilson interval (the paper's ablation
    figure), the base variant's accuracy as a dashed line, points coloured by verdict."""
    if not ab.rows:
        return None
    rows = ab.rows
    fig = Figure(figsize=(7.0, max(2.0, 0.32 * len(rows) + 1.2)))
    ax = fig.add_subplot()
    ys = list(range(len(rows)))
    for y, r in zip(ys, rows):
        color = VERDICT_COLORS.get(r.verdict, "#7a8494")
        ax.errorbar([r.accuracy], [y], xerr=[[r.accuracy - r.ci[0]], [r.ci[1] - r.accuracy]], fmt="o",
                    color=color, ecolor=color, elinewidth=1.5, capsize=3, markersize=5)
    ax.axvline(rows[0].accuracy, color=RUN_COLOR, linestyle="--", linewidth=0.8)
    ax.set_yticks(ys)
    ax.set_yticklabels([r.variant + ("" if r.verdict in ("baseline", "no significant difference")
                                     else f" ({r.verdict})") for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"accuracy over the suite's examples (%), 95% Wilson interval; dashed: {ab.base}")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(ab.title, fontsize=9)
    return _png(fig)
