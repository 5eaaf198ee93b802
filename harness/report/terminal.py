"""The report in a terminal: rich tables (best per row bold green), the long one-line-per-cell
format for tables wider than the terminal, and the same tables as plain text for files."""
from __future__ import annotations

import io

from harness.report.cells import column_header, table_rows
from harness.report.model import DASH, Comparison, SuiteComparison


def rich_tables(comp: Comparison) -> list:
    """rich renderables: per suite a Table (best per row bold green) and its notes."""
    from rich.text import Text

    out = []
    for s in comp.suites:
        out.append(suite_table(s))
        out.extend(Text(n, style="dim") for n in s.notes)
        out.append(Text(""))
    out.extend(_closing_notes(comp))
    return out


def suite_table(s: SuiteComparison):
    from rich.table import Table
    from rich.text import Text

    table = Table(title=s.title, title_justify="left", show_lines=False)
    table.add_column("task", no_wrap=True)
    for c in s.columns:
        style = "dim" if c.kind == "human" else ("cyan" if c.is_run else None)
        table.add_column(column_header(s, c), justify="right", header_style=style or "bold")
    for row in table_rows(s):
        if row.kind == "average":
            table.add_section()
        cells = [Text(t, style="bold green" if c.key in row.best and t not in ("", DASH) else
                      ("dim" if c.kind == "human" else ""))
                 for c, t in zip(s.columns, row.cells)]
        table.add_row(Text(row.label, style="italic" if row.kind != "task" else ""), *cells)
    return table


def _closing_notes(comp: Comparison) -> list:
    from rich.text import Text

    out = [Text(n, style="bold yellow") for n in comp.notes]
    for ref in comp.references:
        out.append(Text(f"Reference {ref.name}: {ref.citation}", style="dim"))
    return out


def suite_lines(s: SuiteComparison) -> list[str]:
    """A suite's table as a long format for narrow terminals: per row, one line per column."""
    lines = [s.title]
    for row in table_rows(s):
        lines.append(row.label)
        for c, text in zip(s.columns, row.cells):
            if text:
                lines.append(f"  {column_header(s, c)}: {text}" + (" (best)" if c.key in row.best else ""))
    return lines


def render_text(comp: Comparison, width: int = 240, color: bool = False) -> str:
    """The rich tables as plain text (or ANSI with `color`), wide enough not to truncate."""
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, color_system="standard" if color else None,
                      no_color=not color, highlight=False)
    print_tables(console, comp)
    return buf.getvalue()


def print_tables(console, comp: Comparison, fit: bool = False) -> None:
    """Print the rich tables, each at least as wide as it needs: a wide table runs past a
    narrow terminal rather than losing digits to ellipses; with `fit` (a terminal), a table
    wider than the console is printed in the long format instead (harness/terminal.py)."""
    from rich.text import Text

    from harness.terminal import fits, print_lines, print_wide

    if not fit:
        for r in rich_tables(comp):
            print_wide(console, r)
        return
    for s in comp.suites:
        table = suite_table(s)
        if fits(console, table):
            console.print(table)
        else:
            print_lines(console, suite_lines(s))
        for n in s.notes:
            console.print(Text(n, style="dim"))
        console.print()
    for r in _closing_notes(comp):
        console.print(r)
