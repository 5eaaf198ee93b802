"""The report in a terminal: rich tables (best per row bold green), the long one-line-per-cell
format for tables wider than the terminal, and the same tables as plain text for files."""
from __future__ import annotations

from harness.report.cells import column_header, table_rows
from harness.report.model import DASH, Report, SuiteTable


def rich_tables(comp: Report) -> list:
    """rich renderables: per suite a Table (best per row bold green) and its notes."""
    from rich.text import Text

    out = []
    for s in comp.suites:
        out.append(suite_table(s))
        out.extend(Text(n, style="dim") for n in s.notes)
        out.append(Text(""))
    out.extend(ablation_tables(comp))
    out.extend(_closing_notes(comp))
    return out


def suite_table(s: SuiteTable, keys: list[str] | None = None, title: str | None = None):
    """The suite's table; `keys`: only these columns (a part of a table split to fit)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title or s.title, title_justify="left", show_lines=False)
    table.add_column("task", no_wrap=True)
    shown = [i for i, c in enumerate(s.columns) if keys is None or c.key in keys]
    for i in shown:
        c = s.columns[i]
        style = "dim" if c.kind == "human" else ("cyan" if c.is_run else None)
        table.add_column(column_header(s, c), justify="right", header_style=style or "bold")
    for row in table_rows(s):
        if row.kind == "average":
            table.add_section()
        cells = [Text(row.cells[i], style="bold green" if s.columns[i].key in row.best
                      and row.cells[i] not in ("", DASH) else ("dim" if s.columns[i].kind == "human" else ""))
                 for i in shown]
        table.add_row(Text(row.label, style="italic" if row.kind != "task" else ""), *cells)
    return table


def split_tables(console, s: SuiteTable) -> list | None:
    """The suite's table cut into parts that each fit the console: the task column, then
    as many model columns as fit, in order (best-per-row marks stay those of the whole
    row). None when even one model column beside the task names does not fit. At 80
    columns this is ~4 short tables per suite where the long format took ~145 lines."""
    from harness.terminal import fits

    groups: list[list[str]] = []
    for c in s.columns:
        if groups and fits(console, suite_table(s, groups[-1] + [c.key])):
            groups[-1].append(c.key)
        else:
            groups.append([c.key])
    tables = [suite_table(s, g, f"{s.title} ({i} of {len(groups)})") for i, g in enumerate(groups, 1)]
    return tables if all(fits(console, t) for t in tables) else None


def ablation_table(ab):
    """One ablation as a rich Table (None when it could not be computed)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from harness.report.ablation import HELPS, HURTS, NO_DIFFERENCE, header, table_cells

    if not ab.rows:
        return None
    table = Table(title=ab.title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False)
    for i, h in enumerate(header(ab)):
        # numbers never wrap (a broken "[10.6, 40.8]" reads as two values); the verdict may
        table.add_column(h, justify="left" if i in (0, 7) else "right", no_wrap=i != 7, min_width=8 if i == 7 else None)
    for cells in table_cells(ab):
        style = {HELPS: "green", HURTS: "red"}.get(cells[-1], "")
        # "n.s." keeps the table within 80 columns; the notes spell it out
        table.add_row(*cells[:-1], Text("n.s." if cells[-1] == NO_DIFFERENCE else cells[-1], style=style))
    return table


def ablation_notes(ab) -> list[str]:
    from harness.report.ablation import NO_DIFFERENCE, method_note

    return ([method_note(ab) + f" n.s.: {NO_DIFFERENCE}."] if ab.rows else [ab.title]) + ab.notes


def ablation_lines(ab) -> list[str]:
    """An ablation in the long format for narrow terminals: one line per variant."""
    from harness.report.ablation import header, table_cells

    names = header(ab)
    return [ab.title] + ["  " + ", ".join(f"{h} {c}" if i else c for i, (h, c) in enumerate(zip(names, cells)))
                         for cells in table_cells(ab)]


def ablation_tables(comp: Report) -> list:
    """rich renderables: per run and suite with several variants, the ablation table and its notes."""
    from rich.text import Text

    out = []
    for ab in comp.ablations:
        table = ablation_table(ab)
        out += ([table] if table is not None else []) + [Text(n, style="dim") for n in ablation_notes(ab)] + [Text("")]
    return out


def _closing_notes(comp: Report) -> list:
    from rich.text import Text

    out = [Text(n, style="bold yellow") for n in comp.notes]
    out += [Text(f"Run {short}: {full}", style="dim") for short, full in comp.renamed]
    for ref in comp.references:
        out.append(Text(f"Reference {ref.name}: {ref.citation}", style="dim"))
    return out


def suite_lines(s: SuiteTable) -> list[str]:
    """A suite's table as a long format for narrow terminals: per row, one line per column."""
    lines = [s.title]
    for row in table_rows(s):
        lines.append(row.label)
        for c, text in zip(s.columns, row.cells):
            if text:
                lines.append(f"  {column_header(s, c)}: {text}" + (" (best)" if c.key in row.best else ""))
    return lines


def render_text(comp: Report, width: int = 240, color: bool = False) -> str:
    """The rich tables as plain text (or ANSI with `color`), wide enough not to truncate."""
    from harness.terminal import render_to_text

    return render_to_text(lambda console: print_tables(console, comp), width, color)


def print_tables(console, comp: Report, fit: bool = False) -> None:
    """Print the rich tables, each at least as wide as it needs: a wide table runs past a
    narrow console rather than losing digits to ellipses (files: `render_text`); with `fit`
    (`report` on stdout, a terminal or a pipe at 80 columns / $COLUMNS), a table wider than
    the console is cut into parts that fit (split_tables), and only when one model column
    does not fit beside the task names printed in the long format (harness/terminal.py)."""
    from rich.text import Text

    from harness.terminal import fits, print_fitting, print_lines, print_wide

    if not fit:
        for r in rich_tables(comp):
            print_wide(console, r)
        return
    for s in comp.suites:
        table = suite_table(s)
        parts = [table] if fits(console, table) else split_tables(console, s)
        if parts:
            for part in parts:
                console.print(part)
        else:
            print_lines(console, suite_lines(s))
        for n in s.notes:
            console.print(Text(n, style="dim"))
        console.print()
    for ab in comp.ablations:
        table = ablation_table(ab)
        if table is not None:
            print_fitting(console, [[table]], lambda: ablation_lines(ab))
        for n in ablation_notes(ab):
            console.print(Text(n, style="dim"))
        console.print()
    for r in _closing_notes(comp):
        console.print(r)
