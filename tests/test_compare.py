"""harness/compare/ and `orca-eval compare` on synthetic run directories written with
the harness.results writers (the same files a real run writes)."""
from __future__ import annotations

import json

import pytest

from harness.cli import main
from harness.compare.comparison import IMPROVED, NO_CHANGE, REGRESSED
from harness.compare.runs import compare_runs
from orca.errors import UserError
from harness.compare.flips import find_flips
from harness.results import load_run
from harness.compare.stats import PairedCounts, mcnemar_exact, paired_counts, suite_mde, task_mde
from helpers import EMPTY_SM, error_line, one_line_error, pair_of_runs, paired_outcomes, write_run

STEADY = {"agieval/sat-math": (200, 90, 10, 10), "bbh/navigate": (250, 150, 12, 13)}


# ------------------------------------------------------------------ verdicts and the gate

def test_identical_runs_pass_the_gate(tmp_path, capsys):
    base, cand = pair_of_runs(tmp_path, {"agieval/lsat-ar": (200, 80, 0, 0), **STEADY})
    result = compare_runs(base, cand)
    assert result.verdict == NO_CHANGE
    lsat = next(t for t in result.tasks if t.task == "agieval/lsat-ar")
    assert (lsat.lost, lsat.gained, lsat.delta, lsat.p_value) == (0, 0, 0.0, 1.0)
    assert main(["compare", str(base), str(cand), "--fail-on-regression"]) == 0
    assert "no significant change" in capsys.readouterr().out


def test_one_task_regression_fails_the_gate(tmp_path, capsys):
    spec = {"agieval/lsat-ar": (200, 100, 40, 5), **STEADY}
    base, cand = pair_of_runs(tmp_path, spec)
    result = compare_runs(base, cand)
    by_task = {t.task: t for t in result.tasks}
    lsat = by_task["agieval/lsat-ar"]
    assert (lsat.n, lsat.lost, lsat.gained) == (200, 40, 5)
    assert lsat.base_accuracy == 50.0 and lsat.cand_accuracy == pytest.approx(32.5)
    assert lsat.delta == pytest.approx(-17.5)
    assert lsat.p_value == pytest.approx(mcnemar_exact(40, 5))
    # Holm over 3 tests: the smallest p is multiplied by 3
    assert lsat.p_adjusted == pytest.approx(min(1, 3 * lsat.p_value))
    assert lsat.verdict == REGRESSED
    assert by_task["agieval/sat-math"].verdict == NO_CHANGE and by_task["bbh/navigate"].verdict == NO_CHANGE
    suites = {s.suite: s for s in result.suites}
    assert suites["agieval"].delta == pytest.approx(-17.5 / 2) and suites["agieval"].verdict == REGRESSED
    assert suites["bbh"].delta == pytest.approx(100 * 1 / 250) and suites["bbh"].verdict == NO_CHANGE
    assert result.verdict == REGRESSED
    assert result.exit_code(fail_on_regression=True) == 1
    assert result.exit_code(fail_on_regression=False) == 0

    assert main(["compare", str(base), str(cand)]) == 0  # report only
    assert main(["compare", str(base), str(cand), "--fail-on-regression"]) == 1
    err = capsys.readouterr().err
    assert "gate failed" in err and "sm1:agieval/lsat-ar -17.5" in err


def test_compare_and_flips_pair_and_count_alike(tmp_path):
    """compare and `report --flips` group rows by doc_id with one function (harness.compare.pairing) and
    compare counts flips with stats.paired_counts: the numbers agree, whatever the line order."""
    spec = {"agieval/lsat-ar": (60, 30, 7, 4), "bbh/navigate": (50, 20, 3, 9)}
    base, cand = pair_of_runs(tmp_path, spec)
    for f in (cand / "samples" / "sm1").glob("*.jsonl"):  # pairing goes by doc_id, not by line
        f.write_text("".join(reversed(f.read_text().splitlines(keepends=True))))
    result = compare_runs(base, cand)
    flips = {t.task: t for t in find_flips(load_run(base), load_run(cand)).tasks}
    assert sorted(flips) == sorted(spec) == sorted(t.task for t in result.tasks)
    for t in result.tasks:
        assert PairedCounts(t.n, t.lost, t.gained) == paired_counts(*paired_outcomes(*spec[t.task]))
        assert (t.n, t.lost, t.gained) == (flips[t.task].shared, flips[t.task].a_only, flips[t.task].b_only)
        assert (t.lost, t.gained) == spec[t.task][2:]


def test_improvement_passes_the_gate(tmp_path):
    base, cand = pair_of_runs(tmp_path, {"agieval/lsat-ar": (200, 60, 3, 35), **STEADY})
    result = compare_runs(base, cand)
    assert result.verdict == IMPROVED
    assert [t.task for t in result.tasks if t.verdict == IMPROVED] == ["agieval/lsat-ar"]
    assert main(["compare", str(base), str(cand), "--fail-on-regression"]) == 0


def test_min_delta_separates_significant_from_material(tmp_path):
    # 5000 examples, 100 lost vs 55 gained: p ~ 4e-4 but only -0.9 points
    base, cand = pair_of_runs(tmp_path, {"bbh/navigate": (5000, 2500, 100, 55)})
    small = compare_runs(base, cand, min_delta=1.0)
    assert small.tasks[0].p_adjusted < 0.001 and small.tasks[0].delta == pytest.approx(-0.9)
    assert small.verdict == NO_CHANGE
    assert main(["compare", str(base), str(cand), "--fail-on-regression"]) == 0
    assert main(["compare", str(base), str(cand), "--fail-on-regression", "--min-delta", "0.5"]) == 1


def test_holm_and_bh_can_disagree(tmp_path):
    # three tasks, each 15 lost vs 5 gained: raw p = 2 * sum_{k<=5} C(20,k) / 2^20 = 0.0414
    spec = {f"bbh/task{i}": (100, 50, 15, 5) for i in range(3)}
    base, cand = pair_of_runs(tmp_path, spec)
    holm = compare_runs(base, cand, correction="holm")
    bh = compare_runs(base, cand, correction="bh")
    assert holm.tasks[0].p_value == pytest.approx(2 * 21700 / 2**20)
    assert all(t.p_adjusted == pytest.approx(3 * t.p_value) for t in holm.tasks)  # Holm: 0.124, none
    assert all(t.p_adjusted == pytest.approx(t.p_value) for t in bh.tasks)       # BH: m/rank = 1, all
    assert {t.verdict for t in holm.tasks} == {NO_CHANGE}
    assert {t.verdict for t in bh.tasks} == {REGRESSED}
    assert main(["compare", str(base), str(cand), "--fail-on-regression", "--correction", "bh"]) == 1


def test_suite_regression_without_any_single_task_significant(tmp_path):
    # eight tasks each losing 4 points (14 lost vs 6 gained of 200): no task survives Holm,
    # but the macro delta (-4, SE ~0.8) is clearly below zero
    spec = {f"bbh/task{i}": (200, 100, 14, 6) for i in range(8)}
    base, cand = pair_of_runs(tmp_path, spec)
    result = compare_runs(base, cand, bootstrap=4000)
    assert {t.verdict for t in result.tasks} == {NO_CHANGE}
    (suite,) = result.suites
    assert suite.suite == "bbh" and suite.n_tasks == 8 and suite.n == 1600
    assert suite.delta == pytest.approx(-4.0)
    assert suite.ci95[1] < 0 < -suite.ci95[0]
    assert suite.verdict == REGRESSED and result.verdict == REGRESSED
    assert result.gate_message().startswith("1 significant regression(s)") and "bbh (macro)" in result.gate_message()


def test_suite_bootstrap_is_seeded_and_reported(tmp_path):
    base, cand = pair_of_runs(tmp_path, {"agieval/lsat-ar": (100, 50, 10, 4), "agieval/sat-math": (120, 50, 8, 9)})
    a = compare_runs(base, cand, bootstrap=2000, seed=3)
    b = compare_runs(base, cand, bootstrap=2000, seed=3)
    c = compare_runs(base, cand, bootstrap=2000, seed=4)
    assert a.suites[0].ci95 == b.suites[0].ci95 != c.suites[0].ci95
    assert a.suites[0].delta == pytest.approx(((4 - 10) / 100 * 100 + (9 - 8) / 120 * 100) / 2)


# ------------------------------------------------------------------ repeats

def test_repeats_first_or_majority(tmp_path):
    n = 60
    base_rep = [[True] * n] * 3
    # candidate: repeat 0 all right, repeats 1 and 2 all wrong -> majority wrong
    cand_rep = [[True] * n, [False] * n, [False] * n]
    base = write_run(tmp_path / "b", {"bbh/navigate": [True] * n}, repeats={"bbh/navigate": base_rep})
    cand = write_run(tmp_path / "c", {"bbh/navigate": [True] * n}, repeats={"bbh/navigate": cand_rep})
    first = compare_runs(base, cand, repeats="first")
    majority = compare_runs(base, cand, repeats="majority")
    assert first.tasks[0].delta == 0 and first.verdict == NO_CHANGE
    assert majority.tasks[0].lost == n and majority.verdict == REGRESSED
    assert any("repeat 0" in note for note in first.notes)


# ------------------------------------------------------------------ refusals (exit 2, one line)

def test_refuses_different_example_sets_unless_intersection(tmp_path, capsys):
    base_ok, cand_ok = paired_outcomes(100, 50, 20, 2)
    base = write_run(tmp_path / "base", {"agieval/lsat-ar": base_ok, "bbh/navigate": base_ok})
    cand = write_run(tmp_path / "cand", {"agieval/lsat-ar": cand_ok[:80], "bbh/navigate": cand_ok})
    out = tmp_path / "report.json"
    msg = one_line_error(capsys, ["compare", str(base), str(cand), "--out", str(out)])
    assert "sm1:agieval/lsat-ar" in msg and "20 doc_id(s) only in base" in msg and "--intersection" in msg
    assert not out.exists()  # nothing half-written

    rc = main(["compare", str(base), str(cand), "--intersection", "--format", "json", "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["dropped_examples"] == 20
    assert any("dropped 20 example" in n for n in report["notes"])
    lsat = next(t for t in report["tasks"] if t["task"] == "agieval/lsat-ar")
    assert lsat["n"] == 80 and lsat["dropped"] == 20 and lsat["lost"] == 20 and lsat["gained"] == 2
    assert rc == 0  # no --fail-on-regression


def test_refuses_a_different_prompt_for_the_same_doc_id(tmp_path, capsys):
    ok = [True] * 50
    base = write_run(tmp_path / "base", {"bbh/navigate": ok})
    cand = write_run(tmp_path / "cand", {"bbh/navigate": ok}, prompt_salt={7: "-edited"})
    msg = one_line_error(capsys, ["compare", str(base), str(cand)])
    # synthetic rows carry no user_sha (like runs from before it): the rendered prompt decides
    assert "1 with a different rendered prompt" in msg and "doc_id 7" in msg
    result = compare_runs(base, cand, intersection=True)
    assert result.tasks[0].n == 49 and result.dropped == 1


@pytest.mark.parametrize("field,base_kw,cand_kw,expected", [
    ("prompt_style", {"prompt_style": "orca"}, {"prompt_style": "agieval"}, "prompt style differs"),
    ("mode", {"mode": "generate"}, {"mode": "loglikelihood"}, "mode differs"),
    ("system message", {"variants": {"sm1": EMPTY_SM}}, {"variants": {"sm1": "You are a helpful assistant."}},
     "different system message"),
])
def test_refuses_a_different_setup_even_with_intersection(tmp_path, capsys, field, base_kw, cand_kw, expected):
    ok = [True, False] * 30
    base = write_run(tmp_path / "base", {"bbh/navigate": ok}, **base_kw)
    cand = write_run(tmp_path / "cand", {"bbh/navigate": ok}, **cand_kw)
    for extra in ([], ["--intersection"]):
        msg = one_line_error(capsys, ["compare", str(base), str(cand), "--fail-on-regression", *extra])
        assert expected in msg, msg


def test_variants_must_match_or_be_chosen(tmp_path, capsys):
    ok = [True, False] * 30
    base = write_run(tmp_path / "base", {"bbh/navigate": ok}, variants={"sm1": EMPTY_SM, "none": None})
    cand = write_run(tmp_path / "cand", {"bbh/navigate": ok}, variants={"sm1": EMPTY_SM})
    msg = one_line_error(capsys, ["compare", str(base), str(cand)])
    assert "variants differ" in msg
    assert main(["compare", str(base), str(cand), "--variant", "1", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {t["variant"] for t in report["tasks"]} == {"sm1"}
    msg = one_line_error(capsys, ["compare", str(base), str(cand), "--variant", "none"])
    assert "candidate run has no variant 'none'" in msg
    result = compare_runs(base, cand, intersection=True)
    assert any("variants only in one run" in n for n in result.notes)


def test_refuses_tasks_that_differ_unless_intersection(tmp_path, capsys):
    ok = [True, False] * 30
    base = write_run(tmp_path / "base", {"bbh/navigate": ok, "bbh/snarks": ok})
    cand = write_run(tmp_path / "cand", {"bbh/navigate": ok})
    msg = one_line_error(capsys, ["compare", str(base), str(cand)])
    assert "different tasks" in msg and "bbh/snarks" in msg
    result = compare_runs(base, cand, intersection=True)
    assert [t.task for t in result.tasks] == ["bbh/navigate"]


def test_refuses_unusable_input(tmp_path, capsys):
    ok = [True, False] * 30
    base = write_run(tmp_path / "base", {"bbh/navigate": ok})
    assert "run directory not found" in one_line_error(capsys, ["compare", str(base), str(tmp_path / "nope")])
    half = tmp_path / "half"
    half.mkdir()
    (half / "run.json").write_text("{}")
    assert "summary.json: not found" in one_line_error(capsys, ["compare", str(base), str(half)])
    assert "--alpha" in one_line_error(capsys, ["compare", str(base), str(base), "--alpha", "1.5"])
    assert "--min-delta" in one_line_error(capsys, ["compare", str(base), str(base), "--min-delta", "-1"])
    # a duplicated example line (e.g. a samples file concatenated twice)
    dup = write_run(tmp_path / "dup", {"bbh/navigate": ok})
    f = dup / "samples" / "sm1" / "bbh__navigate.jsonl"
    f.write_text(f.read_text() + f.read_text().splitlines(keepends=True)[0])
    assert "doc_id 0 repeat 0 appears twice" in one_line_error(capsys, ["compare", str(base), str(dup)])
    with pytest.raises(UserError):
        compare_runs(base, dup)
    # a hand-edited outcome that is not a boolean ("false" would otherwise count as correct)
    bad = write_run(tmp_path / "bad", {"bbh/navigate": ok})
    f = bad / "samples" / "sm1" / "bbh__navigate.jsonl"
    f.write_text(f.read_text().replace('"correct": false', '"correct": "false"', 1))
    assert "field 'correct' must be true or false" in one_line_error(capsys, ["compare", str(base), str(bad)])
    with pytest.raises(SystemExit):  # argparse rejects an unknown correction itself (exit 2)
        main(["compare", str(base), str(base), "--correction", "bonferroni"])


@pytest.mark.parametrize("flags, message", [
    (["--min-delta", "nan"], "--min-delta must be a finite number"),
    (["--min-delta", "inf"], "--min-delta must be a finite number"),
    (["--min-delta", "-1"], "--min-delta must be >= 0"),
    (["--alpha", "nan"], "--alpha must be a finite number"),
    (["--alpha", "1"], "--alpha must be > 0 and < 1"),
    (["--bootstrap", "1000000000"], "--bootstrap must be >= 100 and <= 1e+06"),
    (["--bootstrap", "10"], "--bootstrap must be >= 100"),
])
def test_compare_refuses_nonsense_settings(tmp_path, capsys, flags, message):
    # checked before either run is read, so the runs need not exist
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")] + flags) == 2
    assert message in error_line(capsys)


# ------------------------------------------------------------------ output formats

def test_markdown_and_json_outputs(tmp_path, capsys):
    base, cand = pair_of_runs(tmp_path, {"agieval/lsat-ar": (200, 100, 40, 5), **STEADY})
    md_file = tmp_path / "comment.md"
    assert main(["compare", str(base), str(cand), "--format", "markdown", "--out", str(md_file),
                 "--fail-on-regression"]) == 1
    md = md_file.read_text()
    assert md.startswith("### orca-eval compare: ❌ regressed")
    assert "| sm1 | agieval/lsat-ar | 200 | 50.0 | 32.5 | -17.5 | 40 | 5 |" in md
    assert "<details><summary>All 3 tasks</summary>" in md
    assert "Holm-corrected p < 0.05" in md
    assert "| sm1 | agieval | 2 | 400 |" in md  # suite row

    assert main(["compare", str(base), str(cand), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "regressed"
    # the task, and with it the AGIEval macro average (-17.5 and 0 -> -8.75)
    assert report["regressions"] == ["sm1:agieval (macro)", "sm1:agieval/lsat-ar"]
    assert report["settings"] == {"alpha": 0.05, "min_delta": 1.0, "correction": "holm", "bootstrap": 10000,
                                  "seed": 0, "repeats": "first", "intersection": False, "mde_power": 0.8}
    lsat = next(t for t in report["tasks"] if t["task"] == "agieval/lsat-ar")
    assert (lsat["lost"], lsat["gained"], lsat["delta"], lsat["verdict"]) == (40, 5, -17.5, "regressed")
    assert {s["suite"] for s in report["suites"]} == {"agieval", "bbh"}


def test_table_output_to_file_is_plain_text(tmp_path, capsys):
    base, cand = pair_of_runs(tmp_path, {"agieval/lsat-ar": (200, 100, 40, 5), **STEADY})
    out = tmp_path / "table.txt"
    assert main(["compare", str(base), str(cand), "--out", str(out)]) == 0
    text = out.read_text()
    assert "\x1b[" not in text
    assert "agieval/lsat-ar" in text and "-17.5" in text and "verdict: regressed" in text
    assert main(["compare", str(base), str(cand)]) == 0
    assert "verdict: regressed" in capsys.readouterr().out


def test_notes_on_softer_differences(tmp_path):
    base, cand = pair_of_runs(tmp_path, {"bbh/navigate": (60, 30, 0, 0)})
    for run, (sha, temp) in ((base, ("aaa", 0.0)), (cand, ("bbb", 0.7))):
        meta = json.loads((run / "run.json").read_text())
        meta["data"] = {"hashes": {"bbh/navigate": sha}}
        meta["model"]["fingerprint"] = "f00d"
        meta["decoding"]["temperature"] = temp
        (run / "run.json").write_text(json.dumps(meta))
    notes = compare_runs(base, cand).notes
    assert any(n.startswith("data files differ for bbh/navigate") for n in notes)
    assert "both runs evaluated the same checkpoint (fingerprint f00d)" in notes
    assert "decoding differs: temperature 0.0 vs 0.7" in notes


# ------------------------------------------------------------------ minimal detectable effect

def test_mde_is_printed_per_task_and_suite(tmp_path, capsys):
    # two BBH tasks of 120 with 19 and 10 flips, one AGIEval task unchanged
    spec = {"bbh/navigate": (120, 60, 10, 9), "bbh/snarks": (120, 70, 6, 4), "agieval/lsat-ar": (80, 30, 0, 0)}
    base, cand = pair_of_runs(tmp_path, spec)
    result = compare_runs(base, cand)
    nav = next(t for t in result.tasks if t.task == "bbh/navigate")
    assert nav.mde == task_mde(120, 19 / 120, 0.05 / 3, 1.0)  # Holm's first step over 3 task tests
    bbh = next(s for s in result.suites if s.suite == "bbh")
    assert bbh.mde == suite_mde([(120, 19 / 120), (120, 10 / 120)], 0.05 / 2, 1.0)  # 2 suite tests
    assert bbh.mde < nav.mde  # the average of two tasks sees smaller regressions than one task

    assert main(["compare", str(base), str(cand)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines in a pipe
    assert (f"MDE: this comparison would catch a regression of >= {bbh.mde:.1f} points on bbh with 80 % power "
            "(n=240, discordance 12.1 %)") in out
    assert "MDE" in out.split("Tasks")[1].split("\n")[0] or " MDE " in out

    assert main(["compare", str(base), str(cand), "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "| MDE (80 % power) |" in md
    assert f"| {nav.p_adjusted:.4f} | {nav.mde:.1f} | no significant change |" in md
    assert main(["compare", str(base), str(cand), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_task = {t["task"]: t for t in report["tasks"]}
    assert by_task["bbh/navigate"]["mde"] == round(nav.mde, 4)
    assert by_task["agieval/lsat-ar"]["discordance"] == 0.0 and by_task["agieval/lsat-ar"]["mde"] > 0


def test_the_gates_print_the_mde(tmp_path, capfd):
    from harness.gate import compare_with_baseline

    base, cand = pair_of_runs(tmp_path, {"bbh/navigate": (40, 20, 4, 3), "bbh/snarks": (40, 20, 2, 2)})
    assert compare_with_baseline(base, cand) == 0  # `orca-eval compare` in a child process
    out = " ".join(capfd.readouterr().out.split())
    assert "MDE: this comparison would catch a regression of >= " in out and "on bbh with 80 % power (n=80" in out


def test_mde_of_too_few_examples_says_so(tmp_path):
    # 5 pairs: even 5 losses of 5 give McNemar p = 0.0625, so no task regression can be shown
    base, cand = pair_of_runs(tmp_path, {"bbh/navigate": (5, 2, 1, 1), "bbh/snarks": (5, 2, 1, 0)})
    result = compare_runs(base, cand)
    assert [t.mde for t in result.tasks] == [None, None]
    assert result.mde_lines()[0].endswith("(n=10, discordance 30.0 %); in one task alone none (too few examples)")
