"""One run shows one set of numbers: `run`/`score`, `report` and `compare` print the same
suite average, because summary.json keeps full precision and harness/display.py rounds
once for display. Before, summary.json stored task accuracies rounded to two decimals and
their average rounded again (68.45 here), so `score` printed 68.5 while `report`, averaging
the stored task figures, printed 68.4."""
from __future__ import annotations

import json
import re

from harness.cli import main
from harness.data import SUITES, load_task_data
from harness.display import pct, round_half_up

# Examples per AGIEval task and how many of them are answered right: chosen so that the
# exact macro average (68.4496...) and the twice-rounded one (68.45) display differently.
N = [7, 9, 11, 13, 6, 7, 8, 9]
CORRECT = [5, 9, 4, 6, 4, 5, 8, 5]


def _run(tmp_path, data_dir, capsys):
    rows = []
    for task, n, c in zip(SUITES["agieval"], N, CORRECT):
        docs = load_task_data(task, str(data_dir)).docs
        for i in range(n):
            gold = docs[i]["label"]
            rows.append({"task": task, "doc_id": i,
                         "prediction": gold if i < c else next(x for x in "ABCDE" if x != gold)})
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = tmp_path / "run"
    assert main(["score", "--suite", "agieval", "--predictions", str(preds), "--output", str(run)]) == 0
    return run, capsys.readouterr().out


def test_run_report_and_compare_print_one_average(tmp_path, data_dir, capsys):
    run, score_out = _run(tmp_path, data_dir, capsys)
    exact = sum(100 * c / n for c, n in zip(CORRECT, N)) / len(N)
    twice_rounded = round(sum(round(100 * c / n, 2) for c, n in zip(CORRECT, N)) / len(N), 2)
    assert pct(exact) != pct(twice_rounded)  # the case this test is about

    summary = json.loads((run / "summary.json").read_text())
    assert summary["variants"]["sm1"]["suites"]["agieval"]["accuracy"] == exact  # stored unrounded

    (score_avg,) = re.findall(r"agieval average\D*?(\d+\.\d)", score_out)

    assert main(["report", str(run)]) == 0
    report_out = capsys.readouterr().out
    # the part of the AGIEval table holding the run's column (a table cut to fit 80 columns)
    part = next(p for p in report_out.split("AGIEval, zero-shot") if "run sm1 (partial)" in p)
    (average_row,) = [line for line in part.splitlines() if "average (8 orca-paper tasks)" in line]
    report_avg = re.findall(r"(\d+\.\d) \(\d+\.\d\)", average_row)[-1]  # "robust (official)"

    assert main(["compare", str(run), str(run)]) == 0
    compare_out = capsys.readouterr().out
    # the suites row, whichever layout fits: "[sm1] agieval  8  70  BASE  CAND ..."
    (suite_line,) = [line for line in compare_out.splitlines() if re.match(r"(sm1\s+)?agieval\s+8\s", line.strip())]
    base_avg, cand_avg = re.findall(r"\b(\d+\.\d)\b", suite_line)[:2]

    assert score_avg == report_avg == base_avg == cand_avg == pct(exact)


def test_pct_rounds_half_up_and_keeps_signs():
    assert pct(42.85) == "42.9" and pct(0.05) == "0.1" and pct(None) == "—"
    assert pct(2.0, sign=True) == "+2.0" and pct(-17.5, sign=True) == "-17.5" and pct(-0.04, sign=True) == "+0.0"
    assert round_half_up(42.8625) == 42.9
