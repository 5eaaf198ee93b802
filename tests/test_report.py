"""Comparison tables (markdown, rich text), intervals, flips and the `report` CLI, on run
directories written with harness.results from synthetic per-example outcomes."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness.cli import main
from orca.errors import UserError
from harness.compare.flips import find_flips, render_flips_markdown, render_flips_text, write_flips_jsonl
from harness.reference import load_references
from harness.report import (build_comparison, leaderboard_entries, load_runs, macro_interval, partial_coverage,
                            render_markdown, render_text, run_labels, table_rows)
from harness.report.build import check_shared_tasks
from harness.results import load_run, summarize_variant, wilson_ci95, write_samples, write_summary
from helpers import AGIEVAL, BBH, SM1, bbh_partial, make_run, outcomes, tiny_agieval

# tiny_agieval (tests/helpers.py): AGIEval run "tiny", 40 examples per task. sm1 accuracies
# 25,30,40,40,50,30,70,35 (mean 40.0), official 20,25,35,35,45,25,65,30 (mean 35.0); sm2
# accuracies 30,25,20,45,45,35,75,30 (mean 38.125).


@pytest.fixture
def paper():
    return load_references(["orca-paper"])


def _md_row(md: str, label: str, section: int = 0) -> str:
    tables = md.split("### ")[1:]
    return next(line for line in tables[section].splitlines() if line.startswith(f"| {label} |"))


def test_markdown_table_exact_numbers(tmp_path, paper):
    comp = build_comparison(load_runs([tiny_agieval(tmp_path)]), paper)
    md = render_markdown(comp)
    assert _md_row(md, "task") == ("| task | Human | Text-Davinci-003 | ChatGPT | GPT-4 | Vicuna-13B | Orca-13B | "
                                   "tiny sm1 | tiny sm2 | tiny best-SM |")
    # run beats GPT-4 on LSAT-AR (40.0 > 35.2): run columns bold, Human never competes
    assert _md_row(md, "LSAT-AR") == ("| LSAT-AR | 56.0 | 21.7 | 24.4 | 35.2 | 20.4 | 21.3 | **40.0 (35.0)** | "
                                      "20.0 (20.0) | **40.0 (35.0)** |")
    assert _md_row(md, "AQuA-RAT") == ("| AQuA-RAT | 85.0 | 29.9 | 31.9 | **40.6** | 20.1 | 27.9 | 25.0 (20.0) | "
                                       "30.0 (30.0) | 30.0 (30.0) |")
    # like-for-like average: cells' means (Text-Davinci-003 42.8625 -> 42.9), run 40.0, 38.125 -> 38.1,
    # best-SM per task max(sm1, sm2) = 30,30,40,45,50,35,75,35 -> 42.5
    assert _md_row(md, "*average (8 orca-paper tasks)*") == (
        "| *average (8 orca-paper tasks)* | 84.0 | 42.9 | 47.2 | **62.0** | 29.3 | 41.7 | 40.0 (35.0) | "
        "38.1 (38.1) | 42.5 (40.0) |")
    assert _md_row(md, "*average (published)*") == (
        "| *average (published)* | 84.1† | 41.9 or 42.9† | 47.2 | 62.0 | 29.3 | 41.7 |  |  |  |")
    # Orca 41.675 / ChatGPT 47.1625 = 88 %; tiny sm1 40.0/47.1625 = 84.8 %; best-SM 42.5/47.1625 = 90.1 %
    assert _md_row(md, "*relative to ChatGPT*") == (
        "| *relative to ChatGPT* | — | 91 % | 100 % | 131 % | 62 % | 88 % | 85 % | 81 % | 90 % |")
    assert "| *run average, all tasks" not in md  # no extra tasks beyond the reference's 8
    assert "- † orca-paper Table 8: The per-task cells are from one source only." in md
    assert "Human published average: Not marked in the source notes" in md
    assert "best-SM: per task the run's best system-message variant (the paper's Table 9 view)" in md
    assert "partial" not in md
    assert "Reference `orca-paper`: Mukherjee" in md


def test_best_sm_records_the_chosen_variant(tmp_path, paper):
    comp = build_comparison(load_runs([tiny_agieval(tmp_path)]), paper)
    best = next(c for c in comp.suites[0].columns if c.kind == "run-best")
    assert best.chosen == {"agieval/aqua-rat": "sm2", "agieval/logiqa-en": "sm1", "agieval/lsat-ar": "sm1",
                           "agieval/lsat-lr": "sm2", "agieval/lsat-rc": "sm1", "agieval/sat-math": "sm2",
                           "agieval/sat-en": "sm2", "agieval/sat-en-without-passage": "sm1"}


def test_bbh_partial_run_uses_the_papers_23_tasks(tmp_path, paper):
    comp = build_comparison(load_runs([bbh_partial(tmp_path)]), paper)
    bbh = next(s for s in comp.suites if s.suite == "bbh")
    assert len(bbh.reference_tasks) == 23 and len(bbh.tasks) == 27
    run = next(c for c in bbh.columns if c.is_run)
    assert bbh.average(run) == (50.0, 23)
    avg27, k = bbh.own_average(run)
    assert k == 27 and avg27 == pytest.approx(23 * 50 / 27)
    md = render_markdown(comp)
    bbh_md = md.split("### ")[2]
    assert "| task | ChatGPT | GPT-4 | Vicuna-13B | Orca-13B | bbh-small none (partial) |" in bbh_md
    assert _md_row(md, "*average (23 orca-paper tasks)*", 1).endswith("| 48.9 | **67.4** | 23.3 | 49.7 | 50.0 (50.0) |")
    assert _md_row(md, "*run average, all tasks [n tasks]*", 1).endswith("|  |  |  |  | 42.6 (42.6) [27] |")
    # ChatGPT's 23 cells average to 48.87; 50.0 / 48.87 = 102 %
    assert _md_row(md, "*relative to ChatGPT*", 1).endswith("| 100 % | 138 % | 48 % | 102 % | 102 % |")
    assert _md_row(md, "dyck_languages (no ref.)", 1) == "| dyck_languages (no ref.) | — | — | — | — | 0.0 (0.0) |"
    assert "the 'average' row computes every column over those same 23 tasks" in bbh_md
    assert "(4: dyck_languages, multistep_arithmetic_two, object_counting, word_sorting)" in bbh_md
    assert ("**bbh-small: partial run (--limit 10): 270 of 6511 examples per variant; not comparable with "
            "full-test-set figures.**") in md
    # AGIEval appears (the reference has it) with no run column
    assert _md_row(md, "task", 0).endswith("| Orca-13B |")


def test_missing_tasks_are_noted_and_not_ranked(tmp_path, paper):
    part = make_run(tmp_path, "three", {"sm1": {t: outcomes(20, 10) for t in AGIEVAL[:3]}})
    comp = build_comparison(load_runs([part]), paper)
    ag = comp.suites[0]
    md = render_markdown(comp)
    assert "three: lacks 5 of the 8 reference tasks (LSAT-LR, LSAT-RC, SAT-Math, SAT-English, " \
           "SAT-English (w/o passage)); its averages marked * cover only the tasks it has" in md
    assert _md_row(md, "*average (8 orca-paper tasks)*").endswith("| 50.0 (50.0)* |")
    assert _md_row(md, "*relative to ChatGPT*").endswith("| 88 % | — |")
    assert _md_row(md, "LSAT-LR").endswith("| — |")
    # not in the ranking at all (its 50.0 over 3 tasks would sort above ChatGPT's 47.2 over 8) ...
    assert not any(e.column.is_run for e in leaderboard_entries(ag))
    ranked = [(e.rank, e.column.label) for e in leaderboard_entries(ag) if e.rank]
    assert ranked == [(1, "GPT-4"), (2, "ChatGPT"), (3, "Text-Davinci-003"), (4, "Orca-13B"), (5, "Vicuna-13B")]
    # ... but compared on its own 3 tasks (AQuA-RAT, LogiQA, LSAT-AR) with the references over the same 3:
    # ChatGPT (31.9 + 35.0 + 24.4) / 3 = 30.43, GPT-4 (40.6 + 49.3 + 35.2) / 3 = 41.7
    [entry] = partial_coverage(ag)
    assert entry.tasks == AGIEVAL[:3] and entry.average == 50.0
    assert entry.interval == pytest.approx(macro_interval([(10, 20)] * 3))
    refs = dict(entry.references)
    assert refs["ChatGPT"] == pytest.approx(30.4333, abs=1e-3) and refs["GPT-4"] == pytest.approx(41.7)
    assert "Human" not in refs  # people are not a reference model to beat
    assert ("three sm1: covers 3 of 8 tasks; on those 3: 50.0 against Text-Davinci-003 24.8, ChatGPT 30.4, "
            "GPT-4 41.7, Vicuna-13B 23.4, Orca-13B 28.1.") in md


def test_rich_text_table(tmp_path, paper):
    comp = build_comparison(load_runs([tiny_agieval(tmp_path)]), paper)
    text = render_text(comp, width=250)
    line = next(ln for ln in text.splitlines() if "LSAT-AR" in ln)
    assert [c.strip() for c in line.strip("│ ").split("│")] == [
        "LSAT-AR", "56.0", "21.7", "24.4", "35.2", "20.4", "21.3", "40.0 (35.0)", "20.0 (20.0)", "40.0 (35.0)"]
    assert "relative to ChatGPT" in text and "84.1†" in text
    colored = render_text(comp, width=250, color=True)
    assert "\x1b[1;32m40.0 (35.0)" in colored  # best per row: bold green


def test_official_accuracy_reaches_the_tables(tmp_path, paper):
    comp = build_comparison(load_runs([tiny_agieval(tmp_path)]), paper)
    ag = comp.suites[0]
    sm1 = next(c for c in ag.columns if c.label == "tiny sm1")
    assert ag.average(sm1, official=True) == (35.0, 8)
    rows = {r.label: r for r in table_rows(ag)}
    assert rows["SAT-English"].cells[6] == "70.0 (65.0)"


def test_macro_interval_formula_and_coverage():
    # K equal tasks: the mean's half-width is one task's (Agresti-Coull) half-width / sqrt(K)
    z = 1.959963984540054
    p_adj = (20 + z * z / 2) / (50 + z * z)
    one = z * (p_adj * (1 - p_adj) / 50) ** 0.5
    lo, hi = macro_interval([(20, 50)] * 4)
    assert (hi - lo) / 2 == pytest.approx(100 * one / 2, abs=1e-9)
    assert (lo + hi) / 2 == pytest.approx(40.0)
    # a 0 % task still carries uncertainty
    lo0, hi0 = macro_interval([(0, 30)])
    assert lo0 == 0.0 and hi0 > 5
    # averaging per-task Wilson intervals is much wider than the mean's interval
    naive = [wilson_ci95(20, 50)] * 4
    assert (sum(h for _, h in naive) - sum(l for l, _ in naive)) / 4 > 1.8 * (hi - lo)
    # coverage by simulation: 8 tasks of 60 examples at mixed accuracies, and 23 small tasks
    # (a --limit 10 BBH run), where a variance over n + z^2 would cover only ~90 %
    rng = random.Random(7)
    for ps, n in [([0.1, 0.25, 0.4, 0.5, 0.55, 0.7, 0.85, 0.95], 60), ([0.5] * 23, 10)]:
        truth = 100 * sum(ps) / len(ps)
        hits = 0
        trials = 2000
        for _ in range(trials):
            counts = [(sum(rng.random() < p for _ in range(n)), n) for p in ps]
            a, b = macro_interval(counts)
            hits += a <= truth <= b
        assert 0.93 <= hits / trials <= 0.975, (n, hits / trials)


def test_leaderboard_intervals(tmp_path, paper):
    comp = build_comparison(load_runs([tiny_agieval(tmp_path)]), paper)
    entries = {e.column.label: e for e in leaderboard_entries(comp.suites[0])}
    sm1 = entries["tiny sm1"]
    assert sm1.interval == pytest.approx(macro_interval([(c, 40) for c in SM1]))
    assert sm1.interval[0] < 40.0 < sm1.interval[1] and sm1.examples == 320
    assert entries["tiny best-SM"].interval is None
    assert entries["Human"].rank is None and entries["GPT-4"].rank == 1
    # references: approximate, from the published accuracy over the public test-set sizes
    chat = entries["ChatGPT"]
    assert chat.column.approximate_counts and chat.interval[0] < 47.1625 < chat.interval[1]
    assert entries["tiny sm1"].rank == 5  # GPT-4 62.0, ChatGPT 47.2, Text-Davinci-003 42.9, best-SM 42.5


def test_limit_run_gets_no_rank(tmp_path, paper):
    """A --limit run with every task is listed by its average but never ranked, even where
    that average (50.0 over BBH's 23 tasks) is above full entries (Orca-13B 49.7, ChatGPT 48.9)."""
    comp = build_comparison(load_runs([bbh_partial(tmp_path)]), paper)
    entries = leaderboard_entries(next(s for s in comp.suites if s.suite == "bbh"))
    limit = next(e for e in entries if e.column.label == "bbh-small none")
    assert limit.column.partial and limit.rank is None and limit.average == pytest.approx(50.0)
    ranked = [(e.rank, e.column.label) for e in entries if e.rank is not None]
    assert ranked == [(1, "GPT-4"), (2, "Orca-13B"), (3, "ChatGPT"), (4, "Vicuna-13B")]
    assert not any(e.column.partial for e in entries if e.rank is not None)



def test_limit_run_is_never_best_in_a_row(tmp_path, paper):
    """Bold "best" marks a row's top figure; a --limit run's figures are over its first few
    examples, so it never takes the mark, even on a task where its number is the highest."""
    comp = build_comparison(load_runs([bbh_partial(tmp_path)]), paper)
    s = next(s for s in comp.suites if s.suite == "bbh")
    limit = next(c for c in s.columns if c.label == "bbh-small none")
    others = [c for c in s.columns if c is not limit and c.kind in ("reference", "run")]
    tops = [t for t in s.tasks if limit.scores.get(t) is not None
            and all(limit.scores[t] > (c.scores.get(t) or -1) for c in others)]
    assert tops  # it does top some rows: the test means something
    for t in tops:
        assert limit.key not in s.best_keys(t)
    assert limit.key not in s.best_keys(None)

def test_several_reference_sets(tmp_path):
    comp = build_comparison(load_runs([tiny_agieval(tmp_path)]), load_references(["all"]))
    md = render_markdown(comp)
    assert ("Other published AGIEval averages, per-task numbers and task set not given: "
            "OpenOrca x OpenChat Preview2-13B 44.7 (openorca).") in md
    assert "OpenOrca Preview1-13B 37.5 (openorca)" in md
    assert _md_row(md, "task").count("OpenOrca") == 0


def test_no_reference(tmp_path):
    comp = build_comparison(load_runs([tiny_agieval(tmp_path)]), [])
    md = render_markdown(comp)
    assert _md_row(md, "task") == "| task | tiny sm1 | tiny sm2 | tiny best-SM |"
    assert _md_row(md, "*average (8 tasks)*") == "| *average (8 tasks)* | 40.0 (35.0) | 38.1 (38.1) | **42.5 (40.0)** |"
    assert "relative to" not in md


# --------------------------------------------------------------------------- flips

def test_flips_counts_and_jsonl(tmp_path):
    a = make_run(tmp_path, "orca", {"sm1": {"agieval/logiqa-en": outcomes(10, 7), "agieval/lsat-ar": outcomes(6, 2)}})
    # B: logiqa right on 2..5 (first 2 wrong); lsat-ar right on first 4
    b_dir = make_run(tmp_path, "chatgpt", {"sm1": {"agieval/logiqa-en": outcomes(10, 0),
                                                   "agieval/lsat-ar": outcomes(6, 4)}})
    # rewrite B's logiqa so it is right on doc_ids 2..5
    run_b = load_run(b_dir)
    rows = run_b.samples["sm1"]["agieval/logiqa-en"]
    for r in rows:
        r["correct"] = 2 <= r["doc_id"] <= 5
        r["extracted"] = r["target"] if r["correct"] else "Z"
    write_samples(b_dir, "sm1", "agieval/logiqa-en", rows)
    report = find_flips(load_run(a), load_run(b_dir))
    by_task = {t.task: t for t in report.tasks}
    lq = by_task["agieval/logiqa-en"]
    # A right on 0..6, B right on 2..5: A only 0,1,6; B only none; both right 2..5; both wrong 7..9
    assert (lq.shared, lq.both_right, lq.a_only, lq.b_only, lq.both_wrong) == (10, 4, 3, 0, 3)
    ar = by_task["agieval/lsat-ar"]
    assert (ar.shared, ar.both_right, ar.a_only, ar.b_only, ar.both_wrong) == (6, 2, 0, 2, 2)
    assert [(f["task"], f["doc_id"], f["right"]) for f in report.flips] == [
        ("agieval/logiqa-en", 0, "a"), ("agieval/logiqa-en", 1, "a"), ("agieval/logiqa-en", 6, "a"),
        ("agieval/lsat-ar", 2, "b"), ("agieval/lsat-ar", 3, "b")]
    out = tmp_path / "flips.jsonl"
    write_flips_jsonl(report, out)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 5
    first = lines[0]
    assert first["variant"] == "sm1" and first["target"] == "A" and first["a_extracted"] == "A"
    assert first["b_extracted"] == "Z" and first["a_output"] == "orca says (A)" and first["run_b"] == "chatgpt"
    md = render_flips_markdown(report)
    assert "| agieval/logiqa-en | sm1 | 10 | 4 | 3 | 0 | 3 | 100 % | 0 % |" in md
    assert "| total |  | 16 | 6 | 3 | 2 | 5 | 100 % | 100 % |" in md
    assert "Flipped examples: 5." in md
    assert "agieval/lsat-ar" in render_flips_text(report)


def test_flips_pair_differing_variants_and_partial_overlap(tmp_path):
    a = make_run(tmp_path, "a", {"sm1": {"bbh/navigate": outcomes(8, 8)}})
    b = make_run(tmp_path, "b", {"none": {"bbh/navigate": outcomes(4, 0)}})
    report = find_flips(load_run(a), load_run(b))  # one variant each: paired
    t = report.tasks[0]
    assert (t.variant_a, t.variant_b, t.shared, t.a_only, t.only_in_a) == ("sm1", "none", 4, 4, 4)
    assert report.flips[0]["variant"] == "sm1 vs none"
    assert "Not paired: 4 examples only in A, 0 only in B." in render_flips_markdown(report)


def test_flips_refuse_disjoint_or_mismatched_runs(tmp_path):
    a = make_run(tmp_path, "a", {"sm1": {"bbh/navigate": outcomes(5, 3)}})
    other_task = make_run(tmp_path, "b", {"sm1": {"bbh/snarks": outcomes(5, 3)}})
    with pytest.raises(UserError, match="share no examples"):
        find_flips(load_run(a), load_run(other_task))
    other_docs = make_run(tmp_path, "c", {"sm1": {"bbh/navigate": outcomes(5, 3)}}, doc_offset=100)
    with pytest.raises(UserError, match="share no examples"):
        find_flips(load_run(a), load_run(other_docs))
    shifted = make_run(tmp_path, "d", {"sm1": {"bbh/navigate": outcomes(5, 3)}}, targets_shift=1)
    with pytest.raises(UserError, match=r"bbh/navigate: 5 with a different target \(different data files\), e\.g\. doc_id 0, between a and d"):
        find_flips(load_run(a), load_run(shifted))
    two = make_run(tmp_path, "e", {"sm2": {"bbh/navigate": outcomes(5, 3)}, "sm3": {"bbh/navigate": outcomes(5, 3)}})
    with pytest.raises(UserError, match="share no system-message variant .*--variant-a/--variant-b"):
        find_flips(load_run(a), load_run(two))
    report = find_flips(load_run(a), load_run(two), variant_a="sm1", variant_b="sm3")
    assert report.tasks[0].shared == 5


# --------------------------------------------------------------------------- CLI

def test_cli_markdown_and_table_outputs(tmp_path, capsys):
    runs = tmp_path / "runs"
    tiny_agieval(runs)
    out = tmp_path / "report.md"
    assert main(["report", "tiny", "--runs-dir", str(runs), "--format", "markdown", "--out", str(out)]) == 0
    md = out.read_text()
    assert "| LSAT-AR | 56.0 | 21.7 | 24.4 | 35.2 | 20.4 | 21.3 | **40.0 (35.0)** |" in md
    assert main(["report", str(runs / "tiny"), "--format", "table"]) == 0
    assert "LSAT-AR" in capsys.readouterr().out
    txt = tmp_path / "report.txt"
    assert main(["report", "tiny", "--runs-dir", str(runs), "--out", str(txt)]) == 0
    assert "40.0 (35.0)" in txt.read_text() and "\x1b[" not in txt.read_text()


def test_cli_flips(tmp_path, capsys):
    runs = tmp_path / "runs"
    make_run(runs, "a", {"sm1": {"bbh/navigate": outcomes(6, 6)}})
    make_run(runs, "b", {"sm1": {"bbh/navigate": outcomes(6, 2)}})
    out = tmp_path / "flips.jsonl"
    assert main(["report", "--flips", "a", "b", "--runs-dir", str(runs), "--out", str(out)]) == 0
    assert [json.loads(x)["doc_id"] for x in out.read_text().splitlines()] == [2, 3, 4, 5]
    assert "bbh/navigate" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["report"], "give one or more RUN directories, or --all"),
    (["report", "missing-run"], "missing-run: run directory not found"),
    (["report", "--flips", "a"], "--flips takes exactly two runs"),
    (["report", "a", "--reference", "nope"], "unknown reference set 'nope'"),
    (["report", "--flips", "a", "c"], "share no examples"),
    (["report", "a", "c"], "the 2 runs share no tasks (a: bbh/navigate; c: bbh/snarks): nothing to compare"),
    (["report", "a", "c", "--format", "html"], "share no tasks"),
])
def test_cli_user_errors_exit_2_with_one_line(tmp_path, capsys, argv, message):
    runs = tmp_path / "runs"
    make_run(runs, "a", {"sm1": {"bbh/navigate": outcomes(6, 6)}})
    make_run(runs, "c", {"sm1": {"bbh/snarks": outcomes(6, 6)}})
    out = tmp_path / "out.jsonl"
    assert main(argv + ["--runs-dir", str(runs), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("orca-eval: error: ") and message in err and "\n" not in err
    assert not out.exists()  # nothing half-written


def test_cli_rejects_broken_summary(tmp_path, capsys):
    runs = tmp_path / "runs"
    d = make_run(runs, "a", {"sm1": {"bbh/navigate": outcomes(6, 6)}})
    (d / "summary.json").write_text('{"variants": {"sm1": {"tasks": {"bbh/navigate": {"n": 6}}}}}')
    assert main(["report", str(d)]) == 2
    assert "summary.json: variants.sm1.tasks.bbh/navigate: missing field 'accuracy'" in capsys.readouterr().err


def test_repeats_use_the_mean_and_flips_use_repeat_0(tmp_path, paper):
    run_dir = make_run(tmp_path, "rep", {"sm1": {"bbh/navigate": outcomes(10, 6)}})
    rows = load_run(run_dir).samples["sm1"]["bbh/navigate"]
    # a second sample of every example: 8 of 10 right this time
    rows += [{**r, "repeat": 1, "correct": r["doc_id"] < 8} for r in rows]
    write_samples(run_dir, "sm1", "bbh/navigate", rows)
    write_summary(run_dir, {"variants": {"sm1": summarize_variant({"bbh/navigate": rows})}})
    comp = build_comparison(load_runs([run_dir]), paper)
    bbh = next(s for s in comp.suites if s.suite == "bbh")
    col = next(c for c in bbh.columns if c.is_run)
    assert col.scores["bbh/navigate"] == 70.0 and col.counts["bbh/navigate"] == (7.0, 10)
    # (official accuracy comes from repeat 0 in harness.results; 70.0 beats GPT-4 68.8: bold)
    assert _md_row(render_markdown(comp), "navigate", 1).endswith("| **70.0 (60.0)** |")
    other = make_run(tmp_path, "other", {"sm1": {"bbh/navigate": outcomes(10, 7)}})
    t = find_flips(load_run(run_dir), load_run(other)).tasks[0]
    assert (t.shared, t.both_right, t.b_only) == (10, 6, 1)  # repeat 0: docs 0-5 right; other: docs 0-6


# --------------------------------------------------------------------------- display names

def _auto(root: Path, name: str, tasks: list[str], limit: int | None = None, model: str = "smollm2-135m-instruct",
          mode: str = "generate") -> Path:
    """A run named as `orca-eval run` names it without --name."""
    d = make_run(root, name, {"sm1": {t: outcomes(4, 2) for t in tasks}}, limit=limit)
    meta = json.loads((d / "run.json").read_text())
    meta["model"].update(spec=f"gguf:/cache/{model}.Q4_1.gguf", named_model={"name": model})
    meta["mode"] = mode
    (d / "run.json").write_text(json.dumps(meta))
    return d


def test_display_names_are_short_unique_and_keep_given_names(tmp_path):
    dirs = [
        _auto(tmp_path, "gguf-b179c9523d0e6a0f-bbh_navigate+sports_understanding-generate-a4a44b",
              ["bbh/navigate", "bbh/sports_understanding"]),
        _auto(tmp_path, "gguf-b179c9523d0e6a0f-bbh_navigate-generate-77aa01", ["bbh/navigate"]),
        _auto(tmp_path, "gguf-b179c9523d0e6a0f-bbh-loglikelihood-0b1c2d", BBH, mode="loglikelihood"),
        _auto(tmp_path, "gguf-b179c9523d0e6a0f-agieval-generate-111111", AGIEVAL, limit=4),
        _auto(tmp_path, "gguf-b179c9523d0e6a0f-agieval-generate-222222", AGIEVAL, limit=13),
        _auto(tmp_path / "copy", "gguf-b179c9523d0e6a0f-agieval-generate-222222", AGIEVAL, limit=13),
        tiny_agieval(tmp_path),
    ]
    labels = run_labels(load_runs(dirs))
    assert labels == {
        0: "smollm2-135m-instruct gen bbh 2 tasks",  # same model and mode as 1, 3, 4, 5: what it covers
        1: "smollm2-135m-instruct gen navigate",
        2: "smollm2-135m-instruct ll",  # the only loglikelihood run: model and mode are enough
        3: "smollm2-135m-instruct gen agieval limit4",  # same tasks as 4: the --limit tells them apart
        4: f"smollm2-135m-instruct gen agieval limit13 222222 [{tmp_path.name}]",  # copies of one run: the hash,
        5: "smollm2-135m-instruct gen agieval limit13 222222 [copy]",  # then the folder they lie in
        6: "tiny",  # a name the user gave is kept
    }
    # the full names stay in the report: tooltips in HTML, a legend in Markdown and the terminal
    comp = build_comparison(load_runs(dirs[:3]), [], with_ablation=False)
    md = render_markdown(comp)
    assert "- Run `smollm2-135m-instruct ll`: `gguf-b179c9523d0e6a0f-bbh-loglikelihood-0b1c2d (" in md
    assert "gguf-b179c9523d0e6a0f" not in _md_row(md, "task")


def test_model_without_a_named_model_uses_its_spec(tmp_path):
    d = make_run(tmp_path, "SmolLM2-135M-Instruct-bbh-generate-abcdef", {"sm1": {"bbh/navigate": outcomes(4, 2)}})
    meta = json.loads((d / "run.json").read_text())
    meta["model"] = {"spec": "hf:HuggingFaceTB/SmolLM2-135M-Instruct", "backend": "hf"}
    (d / "run.json").write_text(json.dumps(meta))
    assert run_labels(load_runs([d])) == {0: "SmolLM2-135M-Instruct gen"}


def test_runs_sharing_no_tasks_are_refused_and_any_overlap_is_enough(tmp_path, paper):
    a = make_run(tmp_path, "a", {"sm1": {"bbh/navigate": outcomes(6, 6)}})
    b = make_run(tmp_path, "b", {"sm1": {"bbh/snarks": outcomes(6, 6)}})
    c = make_run(tmp_path, "c", {"sm1": {"bbh/snarks": outcomes(6, 3), "bbh/navigate": outcomes(6, 3)}})
    with pytest.raises(UserError, match="share no tasks"):
        check_shared_tasks(load_runs([a, b]))
    check_shared_tasks(load_runs([a, b, c]))  # c shares a task with each: a comparison
    check_shared_tasks(load_runs([a]))  # one run: against the references


def test_cli_all_lists_runs_that_share_no_tasks(tmp_path, capsys):
    runs = tmp_path / "runs"
    make_run(runs, "a", {"sm1": {"bbh/navigate": outcomes(6, 6)}})
    make_run(runs, "b", {"sm1": {"bbh/snarks": outcomes(6, 6)}})
    assert main(["report", "--all", "--runs-dir", str(runs), "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "a sm1: covers 1 of 23 tasks; on those 1: 100.0 against ChatGPT 55.6, GPT-4 68.8" in md


def test_ranking_figure_marks_limit_runs(tmp_path, paper, monkeypatch):
    """In the ranking figure a --limit run's bar is hatched and light and its label says it is not ranked."""
    from harness.report import plots

    figures = []
    monkeypatch.setattr(plots, "_png", lambda fig: figures.append(fig) or b"png")
    comp = build_comparison(load_runs([bbh_partial(tmp_path)]), paper)
    bbh = next(s for s in comp.suites if s.suite == "bbh")
    assert plots.ranking_png(bbh, leaderboard_entries(bbh)) == b"png"
    ax = figures[0].axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    bars = dict(zip(labels, ax.patches))
    limit = bars["bbh-small none (partial, not ranked)"]
    assert limit.get_hatch() == "///"
    assert limit.get_facecolor()[:3] == pytest.approx((0xdb / 255, 0xe8 / 255, 0xf8 / 255))  # plots.PARTIAL_FILL
    assert all(not b.get_hatch() for name, b in bars.items() if "partial" not in name)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["partial (--limit: first N examples per task), not ranked"]
