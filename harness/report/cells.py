"""Cell text of the report tables: numbers to one decimal (half up, as the paper prints
them), run cells as `robust (official)`, check marks, and the rows every renderer prints."""
from __future__ import annotations

from dataclasses import dataclass

from harness.display import pct, round_half_up
from harness.reference import BASELINE_MODEL
from harness.report.model import CHECK_MARK, DASH, Column, SuiteTable


def fmt(value: float | None, digits: int = 1) -> str:
    """A number rounded half up, as the paper prints them; a dash for none."""
    return pct(value, digits, none=DASH)


def published_text(values: list[float], check: str | None) -> str:
    """A published average ("a or b" where sources disagree), marked when it is unconfirmed."""
    text = " or ".join(f"{v:.1f}" for v in values)
    return text + (CHECK_MARK if check else "")


def cell_text(comp: SuiteTable, col: Column, task: str) -> str:
    v = col.scores.get(task)
    if v is None:
        return DASH
    text = fmt(v)
    if col.is_run:
        text += f" ({fmt(col.official.get(task))})"
    if col.cell_checks.get(task):
        text += CHECK_MARK
    return text


def column_header(comp: SuiteTable, col: Column) -> str:
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


def table_rows(comp: SuiteTable) -> list[Row]:
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
                        [published_text(c.published, c.published_check) if c.published else "" for c in comp.columns],
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
