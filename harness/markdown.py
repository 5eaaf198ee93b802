"""Markdown tables: the one writer behind every table in the Markdown that `report`,
`compare`, `report --flips`, the pipeline's report.md and the README's generated figures
(harness/doc_tables.py) write. Cells are the caller's text as is (escaping `|` is the
caller's: only the report's free-text cells need it)."""
from __future__ import annotations

from collections.abc import Iterable


def markdown_table(header: Iterable[str], rule: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    """The lines of a GitHub-flavoured Markdown table. `rule`: the delimiter row's cells, one
    per column ("---" left, "--:" or "---:" right; each view keeps the spelling its files
    have always had)."""
    return [_row(header), "|" + "".join(f"{cell}|" for cell in rule), *(_row(cells) for cells in rows)]


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"
