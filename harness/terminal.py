"""Tables that stay readable in a narrow terminal.

A rich Table squeezed below the width it needs cuts cells to `agi…` or leaves them empty.
Here a table is printed only when it fits the console at its natural width; otherwise
the caller's narrower layout (one table per variant) is tried, and at last a long format:
one plain line per figure, which the terminal may wrap but nothing cuts. Task names and
numbers are never truncated.
"""
from __future__ import annotations

import io
from pathlib import Path

from harness.display import pct


def natural_width(console, renderable) -> int:
    """Columns `renderable` takes when nothing in it is wrapped or cut."""
    return console.measure(renderable, options=console.options.update_width(100_000)).maximum


def minimum_width(console, renderable) -> int:
    """Columns below which rich starts to cut (wrappable text wrapped at words)."""
    return console.measure(renderable, options=console.options.update_width(100_000)).minimum


def fits(console, renderable) -> bool:
    return natural_width(console, renderable) <= console.width


def print_lines(console, lines) -> None:
    """Plain lines, never wrapped or cropped by rich (a long line is the terminal's to wrap)."""
    from rich.text import Text

    for line in lines:
        console.print(line if isinstance(line, Text) else Text(line), soft_wrap=True, highlight=False)


def print_fitting(console, layouts, long_lines) -> str:
    """Print the first layout (a list of tables) whose every table fits the console, else
    `long_lines()`; returns which: "table 0", "table 1", ... or "long"."""
    for i, tables in enumerate(layouts):
        if all(fits(console, t) for t in tables):
            for t in tables:
                console.print(t)
            return f"table {i}"
    print_lines(console, long_lines())
    return "long"


def print_wide(console, renderable) -> None:
    """Print a rich Table at its natural width even past the console's (plain text as usual):
    for a file, where a wide table should run on rather than lose digits to ellipses."""
    from rich.table import Table

    if not isinstance(renderable, Table):
        console.print(renderable)
        return
    width = console.width
    console.width = max(width, natural_width(console, renderable))
    try:
        console.print(renderable)
    finally:
        console.width = width


def render_to_text(draw, width: int, color: bool = False) -> str:
    """What `draw(console)` prints, as a string: rich's own Console on a StringIO, `width`
    columns, plain text (ANSI colours with `color`): the text files of `report`, `compare`
    and `report --flips`."""
    from rich.console import Console

    buf = io.StringIO()
    draw(Console(file=buf, width=width, force_terminal=color, color_system="standard" if color else None,
                 no_color=not color, highlight=False))
    return buf.getvalue()


# ----------------------------------------------------------------- `run` / `score`: the final table

def _summary_table(title: str, variants: list[str], tasks: list[str], summary: dict):
    from rich.table import Table

    table = Table(title=title)
    table.add_column("task", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    for v in variants:
        table.add_column(f"{v} acc %", justify="right", no_wrap=True)
        table.add_column("official", justify="right", style="dim", no_wrap=True)
        table.add_column("unparsed %", justify="right", style="dim", no_wrap=True)
    first = summary["variants"][variants[0]]
    for t in tasks:
        cells = [t, str(first["tasks"][t]["n"])]
        for v in variants:
            s = summary["variants"][v]["tasks"][t]
            cells += [_accuracy(s), pct(s['accuracy_official']), pct(s['unparsed_rate'])]
        table.add_row(*cells)
    for suite in first["suites"]:
        cells = [f"[bold]{suite} average[/bold]", ""]
        for v in variants:
            s = summary["variants"][v]["suites"][suite]
            cells += [f"[bold]{pct(s['accuracy'])}[/bold]", pct(s['accuracy_official']), ""]
        table.add_row(*cells)
    return table


def _accuracy(s: dict) -> str:
    return pct(s['accuracy']) + (f" ± {pct(s['accuracy_std'])}" if "accuracy_std" in s else "")


def _summary_lines(title: str, variants: list[str], tasks: list[str], summary: dict) -> list[str]:
    first = summary["variants"][variants[0]]
    lines = [title, "acc % (official %, unparsed %)"]
    for t in tasks:
        lines.append(f"{t} (n {first['tasks'][t]['n']})")
        for v in variants:
            s = summary["variants"][v]["tasks"][t]
            lines.append(f"  {v}: {_accuracy(s)} ({pct(s['accuracy_official'])}, {pct(s['unparsed_rate'])})")
    for suite in first["suites"]:
        lines.append(f"{suite} average")
        for v in variants:
            s = summary["variants"][v]["suites"][suite]
            lines.append(f"  {v}: {pct(s['accuracy'])} ({pct(s['accuracy_official'])})")
    return lines


def print_run_summary(run_dir: str | Path, console=None) -> str:
    """The final table of `run` and `score`: accuracy per task and variant with suite
    averages; all variants side by side when that fits, else one table per variant, else
    the long format. Returns the layout used."""
    run_dir = Path(run_dir)
    from rich.console import Console

    from harness.results import load_run

    console = console or Console()
    run = load_run(run_dir, with_samples=False)
    summary, meta = run.summary, run.meta
    variants = list(summary["variants"])
    tasks = list(summary["variants"][variants[0]]["tasks"])
    title = (f"{meta['model']['spec']} -- {meta['mode']}, prompt style {meta['prompt_style']}"
             + (f", limit {meta['limit']}" if meta.get("limit") else ""))
    layouts = [[_summary_table(title, variants, tasks, summary)]]
    if len(variants) > 1:
        layouts.append([_summary_table(f"{title} -- {v}", [v], tasks, summary) for v in variants])
    used = print_fitting(console, layouts, lambda: _summary_lines(title, variants, tasks, summary))
    for t, why in (meta.get("skipped_tasks") or {}).items():
        print_lines(console, [f"skipped {t}: {why}"])
    print_lines(console, [f"results: {run_dir}"])
    return used


# ----------------------------------------------------------------- `system-messages`

def print_system_messages(console=None) -> str:
    """The 16 system messages of the Orca paper: a table when it fits, else one block each."""
    from rich.console import Console
    from rich.table import Table

    from orca.system_messages import SOURCE, SUBCOLLECTION_MESSAGES, SYSTEM_MESSAGES

    console = console or Console()
    used_by = {mid: ", ".join(k for k, ids in SUBCOLLECTION_MESSAGES.items() if mid in ids)
               for mid in SYSTEM_MESSAGES}
    table = Table(title=f"System messages ({SOURCE})", show_lines=True)
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("variant", no_wrap=True)
    table.add_column("text", min_width=24)
    table.add_column("FLAN-v2 sub-collections", min_width=12)
    for mid, text in SYSTEM_MESSAGES.items():
        table.add_row(str(mid), f"sm{mid}", text or "[dim](empty)[/dim]", used_by[mid])
    # The text columns wrap, so the table fits down to its minimum width (words kept whole).
    if minimum_width(console, table) <= console.width:
        console.print(table)
        return "table"
    lines = [f"System messages ({SOURCE})"]
    for mid, text in SYSTEM_MESSAGES.items():
        lines += [f"sm{mid} (id {mid})", f"  {text or '(empty)'}"]
        if used_by[mid]:
            lines.append(f"  FLAN-v2: {used_by[mid]}")
    print_lines(console, lines)
    return "long"
