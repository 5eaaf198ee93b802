"""The one Markdown table writer (harness/markdown.py) and the one rich-to-text renderer
(harness/terminal.py's render_to_text) that every view writes its files with."""
from __future__ import annotations

from harness.markdown import markdown_table
from harness.terminal import render_to_text


def test_markdown_table_lines():
    lines = markdown_table(["task", "n", "acc %"], ["---", "--:", "---:"], [["a", "3", "50.0"], ["b | c", "", "x"]])
    assert lines == ["| task | n | acc % |", "|---|--:|---:|", "| a | 3 | 50.0 |", "| b | c |  | x |"]


def test_markdown_table_without_rows_and_from_generators():
    assert markdown_table((h for h in ["x"]), iter(["---"]), iter([])) == ["| x |", "|---|"]


def test_render_to_text_plain_and_colour():
    from rich.table import Table

    table = Table(title="t")
    table.add_column("task")
    table.add_column("acc %", justify="right")
    table.add_row("[bold green]bbh/navigate[/bold green]", "42.0")
    plain = render_to_text(lambda console: console.print(table), 40)
    assert "\x1b[" not in plain and "bbh/navigate" in plain and "42.0" in plain
    assert max(len(line) for line in plain.splitlines()) <= 40
    coloured = render_to_text(lambda console: console.print(table), 40, color=True)
    assert "\x1b[" in coloured
    # without colour, the same characters (styles only add escape codes)
    import re

    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
