"""The report as GitHub-flavoured Markdown: one table per suite, best per row in bold, notes below."""
from __future__ import annotations

from harness.markdown import markdown_table
from harness.report.cells import column_header, table_rows
from harness.report.model import DASH, Report


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_ablation(ab) -> list[str]:
    from harness.report.ablation import header, method_note, table_cells

    out = [f"\n### {_md_escape(ab.title)}\n"]
    if ab.rows:
        out += markdown_table(header(ab), ["---"] + ["---:"] * 6 + ["---"],
                              ([_md_escape(x) for x in cells] for cells in table_cells(ab)))
        out.append("")
        out.append(f"- {_md_escape(method_note(ab))}")
    out += [f"- {_md_escape(n)}" for n in ab.notes]
    return out


def render_markdown(comp: Report) -> str:
    """GitHub-flavoured Markdown: one table per suite, best per row in bold, notes below."""
    out = []
    for s in comp.suites:
        out.append(f"### {_md_escape(s.title)}\n")
        header = ["task"] + [column_header(s, c) for c in s.columns]
        rows = []
        for row in table_rows(s):
            cells = []
            for c, text in zip(s.columns, row.cells):
                text = _md_escape(text)
                cells.append(f"**{text}**" if c.key in row.best and text not in ("", DASH) else text)
            label = f"*{row.label}*" if row.kind != "task" else row.label
            rows.append([_md_escape(label)] + cells)
        out += markdown_table((_md_escape(h) for h in header), ["---"] + ["---:"] * len(s.columns), rows)
        out.append("")
        for n in s.notes:
            out.append(f"- {_md_escape(n)}")
        out.append("")
    for n in comp.notes:
        out.append(f"- **{_md_escape(n)}**")
    for short, full in comp.renamed:
        out.append(f"- Run `{short}`: `{full}`")
    for ab in comp.ablations:
        out.extend(_md_ablation(ab))
    for ref in comp.references:
        out.append(f"\nReference `{ref.name}`: {ref.citation}" + (f" <{ref.url}>" if ref.url else ""))
    return "\n".join(out).rstrip() + "\n"
