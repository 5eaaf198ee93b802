"""The report as GitHub-flavoured Markdown: one table per suite, best per row in bold, notes below."""
from __future__ import annotations

from harness.report.cells import column_header, table_rows
from harness.report.model import DASH, Comparison


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(comp: Comparison) -> str:
    """GitHub-flavoured Markdown: one table per suite, best per row in bold, notes below."""
    out = []
    for s in comp.suites:
        out.append(f"### {_md_escape(s.title)}\n")
        header = ["task"] + [column_header(s, c) for c in s.columns]
        out.append("| " + " | ".join(_md_escape(h) for h in header) + " |")
        out.append("|---|" + "---:|" * len(s.columns))
        for row in table_rows(s):
            cells = []
            for c, text in zip(s.columns, row.cells):
                text = _md_escape(text)
                cells.append(f"**{text}**" if c.key in row.best and text not in ("", DASH) else text)
            label = f"*{row.label}*" if row.kind != "task" else row.label
            out.append("| " + " | ".join([_md_escape(label)] + cells) + " |")
        out.append("")
        for n in s.notes:
            out.append(f"- {_md_escape(n)}")
        out.append("")
    for n in comp.notes:
        out.append(f"- **{_md_escape(n)}**")
    for ref in comp.references:
        out.append(f"\nReference `{ref.name}`: {ref.citation}" + (f" <{ref.url}>" if ref.url else ""))
    return "\n".join(out).rstrip() + "\n"
