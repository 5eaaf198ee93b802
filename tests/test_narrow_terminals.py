"""Narrow terminals: below the width a table needs, the output switches to one table per
variant or to a long format; no task name or number is ever cut.

Tried: the final table of `run`/`score` with three variants at 200, 80 and 40 columns
(BBH's long task names, and AGIEval's shorter ones); `system-messages` at 80, 40 and 12
columns (through the CLI, with $COLUMNS); `compare`'s tables at 80 and 40; `report` and
`report --flips` at 80 and 40. (Output to a pipe or a log: tests/test_width80.py.)"""
from __future__ import annotations

import io
import re

import pytest

from harness.display import pct
from rich.console import Console

from harness.cli import main
from harness.compare.runs import compare_runs
from harness.compare.render import print_table
from harness.terminal import print_run_summary
from orca.system_messages import SYSTEM_MESSAGES
from helpers import make_run, outcomes

BBH_LONG = "bbh/tracking_shuffled_objects_seven_objects"
AGIEVAL = ["agieval/lsat-ar", "agieval/sat-en-without-passage", "agieval/logiqa-en"]


def three_variant_run(tmp_path, tasks):
    # a different score per variant and task, so every number printed is distinct
    results = {v: {t: outcomes(10 + 2 * i + j, 3 + k + i) for i, t in enumerate(tasks)}
               for j, (k, v) in enumerate(enumerate(["sm1", "sm2", "sm3"]))}
    return make_run(tmp_path, "three", results)


def render(fn, width: int) -> tuple[str, object]:
    buf = io.StringIO()
    used = fn(Console(file=buf, width=width, color_system=None, highlight=False))
    return buf.getvalue(), used


def expected_numbers(run_dir):
    import json

    summary = json.loads((run_dir / "summary.json").read_text())
    for v, body in summary["variants"].items():
        for t, s in body["tasks"].items():
            yield t, v, [f"{s['accuracy']:.1f}", f"{s['accuracy_official']:.1f}", f"{s['unparsed_rate']:.1f}"]


def assert_nothing_cut(text: str, run_dir, variants_per_line: bool) -> None:
    assert "…" not in text and "..." not in text
    for task, variant, numbers in expected_numbers(run_dir):
        assert re.search(rf"(^|[\s│]){re.escape(task)}([\s│]|$)", text, re.M), task
        if variants_per_line:  # long format: each variant's figures on one line of its own
            line = f"  {variant}: {numbers[0]} ({numbers[1]}, {numbers[2]})"
            assert line in text, (line, text)


@pytest.mark.parametrize("width, layout", [(200, "table 0"), (80, "long"), (40, "long")])
def test_run_summary_with_long_task_names(tmp_path, width, layout):
    run = three_variant_run(tmp_path, [BBH_LONG, "bbh/navigate", *AGIEVAL[:1]])
    text, used = render(lambda c: print_run_summary(run, c), width)
    assert used == layout
    assert_nothing_cut(text, run, variants_per_line=layout == "long")
    if layout == "long":  # only a task name, a path or the title (the model path) may run past the width
        for line in text.splitlines():
            assert len(line) <= width or line.split(" (n ")[0] == BBH_LONG or str(run) in line or "--" in line, line


def test_run_summary_at_80_columns_uses_one_table_per_variant_when_that_fits(tmp_path):
    run = three_variant_run(tmp_path, AGIEVAL)
    text, used = render(lambda c: print_run_summary(run, c), 80)
    assert used == "table 1"  # the three variants side by side need more than 80 columns
    assert all(len(line) <= 80 for line in text.splitlines())
    assert_nothing_cut(text, run, variants_per_line=False)
    for _, variant, numbers in expected_numbers(run):
        assert f"{variant} acc %" in text and all(n in text for n in numbers)


def test_run_and_score_print_the_fitting_summary(tmp_path):
    """`run` and `score` print through terminal.print_run_summary."""
    run = three_variant_run(tmp_path, [BBH_LONG])
    buf = io.StringIO()
    print_run_summary(run, Console(file=buf, width=80, color_system=None))
    assert "bbh/tracking_shuffled_objects_seven_objects (n" in buf.getvalue()
    assert "agi…" not in buf.getvalue() and "bbh…" not in buf.getvalue()


@pytest.mark.parametrize("columns", [80, 40, 12])
def test_system_messages_in_narrow_terminals(monkeypatch, capsys, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["system-messages"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    if columns == 80:
        assert "┃ id ┃ variant ┃" in out.replace("  ", " ") or "id" in out.splitlines()[2]
        words = re.findall(r"[A-Za-z']+", out)
        for text in SYSTEM_MESSAGES.values():  # wrapped, but every word of every message is there
            for w in re.findall(r"[A-Za-z']+", text):
                assert w in words
    else:
        for mid, text in SYSTEM_MESSAGES.items():
            assert f"sm{mid} (id {mid})" in out
            assert f"  {text or '(empty)'}\n" in out  # whole, on its own line
        # no empty table cells: no line of only borders and blanks
        assert not any(re.fullmatch(r"[\s│┃|]+", line) for line in out.splitlines() if line)


@pytest.mark.parametrize("width", [80, 40])
def test_compare_tables_in_narrow_terminals(tmp_path, width):
    tasks = {BBH_LONG: outcomes(20, 10), "agieval/sat-en-without-passage": outcomes(20, 12)}
    base = make_run(tmp_path, "base", {"sm1": tasks, "sm2": tasks})
    cand = make_run(tmp_path, "cand", {"sm1": {t: outcomes(20, 14) for t in tasks},
                                       "sm2": {t: outcomes(20, 6) for t in tasks}})
    c = compare_runs(base, cand, bootstrap=200)
    text, _ = render(lambda console: print_table(c, console), width)
    assert "…" not in text
    for t in c.tasks:
        assert f"{t.variant} {t.task}\n  {t.verdict}\n" in text
        assert f"base {pct(t.base_accuracy)} %, cand {pct(t.cand_accuracy)} %" in text
    for line in text.splitlines():
        if BBH_LONG not in line and not line.startswith(("Suites", "Tasks", "note", "verdict", "base:", "candidate:")):
            assert len(line) <= width, line
    wide, _ = render(lambda console: print_table(c, console), 200)
    assert "┃ variant ┃" in wide  # with room, still the tables


@pytest.mark.parametrize("columns", [80, 40])
def test_report_and_flips_in_narrow_terminals(tmp_path, monkeypatch, capsys, columns):
    from harness.report import build_comparison, load_runs, table_rows
    from harness.reference import load_references

    a = make_run(tmp_path, "a", {"sm1": {BBH_LONG: outcomes(8, 5), "bbh/navigate": outcomes(8, 3)},
                                 "sm2": {BBH_LONG: outcomes(8, 6), "bbh/navigate": outcomes(8, 2)}})
    b = make_run(tmp_path, "b", {"sm1": {BBH_LONG: outcomes(8, 2), "bbh/navigate": outcomes(8, 7)},
                                 "sm2": {BBH_LONG: outcomes(8, 4), "bbh/navigate": outcomes(8, 8)}})
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["report", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    comp = build_comparison(load_runs([a, b]), load_references(["orca-paper"]))
    for suite in comp.suites:
        for row in table_rows(suite):
            for text in row.cells:
                if text:
                    assert text in out, text  # every figure of the table, whole
    assert main(["report", "--flips", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "…" not in out and f"{BBH_LONG} sm1" in out and "  shared 8: both right" in out
