"""Comparison tables of runs against published reference numbers (`orca-eval report`).

`build_comparison(runs, references)` lines runs up with reference sets per suite; the
renderers only format it. One job per module:

- `model`:    what is compared -- columns, suites, averages, intervals, the ranking
- `build`:    finding and loading runs, and building the comparison from them
- `cells`:    cell text and the table rows every renderer prints
- `markdown`: GitHub-flavoured Markdown
- `terminal`: rich tables, the long format for narrow terminals, plain text
- `html`:     the self-contained HTML leaderboard (style and script: leaderboard.css/.js)
- `plots`:    the HTML page's matplotlib figures
- `ablation`: a run's system-message ablation: accuracy per variant, paired against sm1
"""
from harness.report.build import (all_run_dirs, build_comparison, check_shared_tasks, full_names, load_runs,
                                  resolve_run_dirs, run_labels)
from harness.report.cells import Row, cell_text, column_header, fmt, table_rows
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.model import (Column, Entry, PartialEntry, Report, SuiteTable, leaderboard_entries,
                                  macro_interval, partial_coverage)
from harness.report.terminal import print_tables, render_text, rich_tables, suite_lines, suite_table

__all__ = ["Column", "Entry", "PartialEntry", "Report", "Row", "SuiteTable", "all_run_dirs",
           "build_comparison", "cell_text", "check_shared_tasks", "column_header", "fmt", "full_names",
           "leaderboard_entries", "load_runs", "macro_interval", "partial_coverage",
           "print_tables", "render_html", "render_markdown", "render_text", "resolve_run_dirs",
           "rich_tables", "run_labels", "suite_lines", "suite_table", "table_rows"]
