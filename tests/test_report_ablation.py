"""The system-message ablation (harness.report.ablation): per-variant accuracy with Wilson
intervals and paired exact McNemar tests against sm1, Holm-adjusted, checked against values
worked out by hand on a small synthetic run; and its place in the report's outputs."""
from __future__ import annotations

import math

import pytest

from harness.cli import main
from harness.report import build_comparison, load_runs, render_html, render_markdown, render_text
from harness.report.ablation import HELPS, HURTS, NO_DIFFERENCE, run_ablations, suite_ablation, table_cells
from harness.results import load_run

from helpers import make_run

A, B = "bbh/navigate", "bbh/snarks"


def right_on(n: int, docs) -> list[tuple[bool, bool]]:
    return [(i in docs, i in docs) for i in range(n)]


# sm1 is right on A 0-4 and B 0-3: 9 of 20. Against it, pooled over both tasks:
#   sm2 right everywhere:            lost 0, gained 11 -> exact McNemar p = 2 * 0.5**11
#   sm3 A 1-4, B 0-4:                lost 1, gained 1  -> p = 1
#   sm4 right nowhere:               lost 9, gained 0  -> p = 2 * 0.5**9
#   sm5 A 0-9, B 0-4:                lost 0, gained 6  -> p = 2 * 0.5**6 = 0.03125 (significant alone)
VARIANTS = {
    "sm1": {A: right_on(10, range(5)), B: right_on(10, range(4))},
    "sm2": {A: right_on(10, range(10)), B: right_on(10, range(10))},
    "sm3": {A: right_on(10, range(1, 5)), B: right_on(10, range(5))},
    "sm4": {A: right_on(10, []), B: right_on(10, [])},
    "sm5": {A: right_on(10, range(10)), B: right_on(10, range(5))},
}


def wilson(c: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval written out, in percent."""
    p = c / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return 100 * (centre - half), 100 * (centre + half)


@pytest.fixture
def ablation(tmp_path):
    run = load_run(make_run(tmp_path, "abl", VARIANTS))
    return suite_ablation(run, "abl", "bbh")


def test_ablation_numbers_by_hand(ablation):
    rows = {r.variant: r for r in ablation.rows}
    assert [r.variant for r in ablation.rows] == ["sm1", "sm2", "sm3", "sm4", "sm5"] and ablation.base == "sm1"
    assert [(rows[v].n, rows[v].correct) for v in rows] == [(20, 9), (20, 20), (20, 9), (20, 0), (20, 15)]
    assert rows["sm1"].accuracy == 45.0 and rows["sm5"].accuracy == 75.0
    for v in rows:
        assert rows[v].ci == pytest.approx(wilson(rows[v].correct, 20), abs=1e-9)
    assert [(rows[v].lost, rows[v].gained, rows[v].paired) for v in ("sm2", "sm3", "sm4", "sm5")] == [
        (0, 11, 20), (1, 1, 20), (9, 0, 20), (0, 6, 20)]
    assert rows["sm2"].delta == 55.0 and rows["sm3"].delta == 0.0 and rows["sm4"].delta == -45.0
    raw = {"sm2": 2 * 0.5 ** 11, "sm3": 1.0, "sm4": 2 * 0.5 ** 9, "sm5": 2 * 0.5 ** 6}
    assert {v: rows[v].p for v in raw} == pytest.approx(raw)
    # Holm, 4 comparisons, ascending p: sm2 x4, sm4 x3, sm5 x2, sm3 x1 (monotone, capped at 1)
    holm = {"sm2": 4 * raw["sm2"], "sm4": 3 * raw["sm4"], "sm5": 2 * raw["sm5"], "sm3": 1.0}
    assert {v: rows[v].p_adjusted for v in holm} == pytest.approx(holm)
    # sm5 gains 6 of 6 discordant pairs (p = 0.031 alone) but not after the correction
    assert {v: rows[v].verdict for v in rows} == {"sm1": "baseline", "sm2": HELPS, "sm3": NO_DIFFERENCE,
                                                  "sm4": HURTS, "sm5": NO_DIFFERENCE}
    assert rows["sm1"].p is None and rows["sm1"].delta is None
    lo, hi = wilson(9, 20)
    assert table_cells(ablation)[0] == ["sm1", "20", "45.0", f"[{lo:.1f}, {hi:.1f}]", "—", "—", "—", "baseline"]
    assert table_cells(ablation)[1][4:] == ["+55.0", "0/11", "0.004", "helps"]
    assert table_cells(ablation)[3][4:] == ["-45.0", "9/0", "0.012", "hurts"]


def test_without_sm1_the_first_variant_is_the_base_and_it_says_so(tmp_path):
    run = load_run(make_run(tmp_path, "nosm1", {"none": VARIANTS["sm1"], "sm8": VARIANTS["sm2"]}))
    ab = suite_ablation(run, "nosm1", "bbh")
    assert ab.base == "none" and [r.variant for r in ab.rows] == ["none", "sm8"]
    assert any("no sm1 variant" in n and "compared with none" in n for n in ab.notes)
    # one comparison: Holm leaves p as it is
    assert ab.rows[1].p_adjusted == pytest.approx(2 * 0.5 ** 11)


def test_examples_missing_from_a_variant_are_not_paired(tmp_path):
    run = load_run(make_run(tmp_path, "gap", {"sm1": VARIANTS["sm1"], "sm2": {A: VARIANTS["sm2"][A]}}))
    ab = suite_ablation(run, "gap", "bbh")
    sm2 = ab.rows[1]
    assert (sm2.n, sm2.paired, sm2.lost, sm2.gained) == (10, 10, 0, 5)  # only navigate is in both
    assert any(n.startswith("10 example(s) without a partner under sm1") for n in ab.notes)


def test_one_variant_has_no_ablation(tmp_path):
    run = load_run(make_run(tmp_path, "one", {"sm1": VARIANTS["sm1"]}), with_samples=False)
    assert run_ablations(run, "one") == []


def test_ablation_in_markdown_terminal_and_html(tmp_path):
    comp = build_comparison(load_runs([make_run(tmp_path, "abl", VARIANTS)]), [])
    assert [(a.run, a.suite) for a in comp.ablations] == [("abl", "bbh")]
    md = render_markdown(comp)
    assert "### System-message ablation: abl, BBH" in md
    assert "| variant | n | accuracy | 95% CI | Δ vs sm1 | lost/gained | Holm p | verdict |" in md
    assert "| sm4 | 20 | 0.0 | [0.0, 16.1] | -45.0 | 9/0 | 0.012 | hurts |" in md
    text = render_text(comp, width=100)
    assert "System-message ablation: abl, BBH" in text and "n.s.: no significant difference" in text
    html = render_html(comp, generated_at="t")
    assert 'id="ablation-abl-bbh-table"' in html and "accuracy per system message with 95% intervals" in html


def test_cli_markdown_has_the_ablation(tmp_path, capsys):
    runs = tmp_path / "runs"
    make_run(runs, "abl", VARIANTS)
    assert main(["report", "abl", "--runs-dir", str(runs), "--format", "markdown", "--reference", "none"]) == 0
    out = capsys.readouterr().out
    assert "| sm2 | 20 | 100.0 | [83.9, 100.0] | +55.0 | 0/11 | 0.004 | helps |" in out
