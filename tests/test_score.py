"""`orca-eval score`: gold predictions score 100 %, shuffled ones score near chance; a bad
prediction line or --output is one error line, and a prediction is never stored under an
example id it does not have."""
from __future__ import annotations

import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from harness.cli import main
from harness.data import SUITES, load_task_data
from harness.results import load_run
from helpers import error_line, one_line_error, tree_bytes


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _gold_rows(data_dir, suite):
    rows = []
    for t in SUITES[suite]:
        for i, d in enumerate(load_task_data(t, str(data_dir)).docs):
            rows.append({"task": t, "doc_id": i, "prediction": d["label"] if suite == "agieval" else d["target"],
                         "gold": d["label"] if suite == "agieval" else d["target"]})
    return rows


@pytest.mark.parametrize("suite", ["agieval", "bbh"])
def test_gold_predictions_score_100_on_every_task(data_dir, tmp_path, suite):
    preds = _write(tmp_path / "gold.jsonl", _gold_rows(data_dir, suite))
    assert main(["score", "--suite", suite, "--predictions", str(preds), "--output", str(tmp_path / "r")]) == 0
    run = load_run(tmp_path / "r")
    tasks = run.summary["variants"]["sm1"]["tasks"]
    assert sorted(tasks) == sorted(SUITES[suite])
    for t, s in tasks.items():
        assert s["accuracy"] == 100.0, t
        assert s["n"] == s["n_total"] and s["partial"] is False
    assert run.summary["variants"]["sm1"]["suites"][suite]["accuracy"] == 100.0


@pytest.mark.parametrize("suite", ["agieval", "bbh"])
def test_shuffled_predictions_score_near_chance(data_dir, tmp_path, suite):
    rng = random.Random(0)
    rows = _gold_rows(data_dir, suite)
    shuffled, expected, var = [], 0.0, 0.0
    for t in SUITES[suite]:
        task_rows = [r for r in rows if r["task"] == t]
        preds = [r["prediction"] for r in task_rows]
        rng.shuffle(preds)
        shuffled += [{**r, "prediction": p} for r, p in zip(task_rows, preds)]
        # a random permutation matches gold with probability sum_k p_k^2 per example
        n = len(task_rows)
        p = sum((c / n) ** 2 for c in Counter(r["gold"] for r in task_rows).values())
        expected += 100 * p / len(SUITES[suite])
        var += (100 / len(SUITES[suite])) ** 2 * p * (1 - p) / n
    preds = _write(tmp_path / "shuffled.jsonl", shuffled)
    assert main(["score", "--suite", suite, "--predictions", str(preds), "--output", str(tmp_path / "r")]) == 0
    acc = load_run(tmp_path / "r").summary["variants"]["sm1"]["suites"][suite]["accuracy"]
    assert abs(acc - expected) < 4 * math.sqrt(var) + 1.0, (acc, expected)
    assert acc < 40


def test_predictions_matched_by_input_index_or_target(data_dir, tmp_path):
    docs = load_task_data("bbh/navigate", str(data_dir)).docs
    rows = [
        {"task": "navigate", "input": docs[0]["input"], "prediction": f"So the answer is {docs[0]['target']}."},
        {"task": "bbh/navigate", "index": 1, "prediction": "I am not sure."},
    ]
    preds = _write(tmp_path / "p.jsonl", rows)
    assert main(["score", "--suite", "bbh/navigate", "--predictions", str(preds), "--output", str(tmp_path / "r")]) == 0
    samples = load_run(tmp_path / "r").samples["sm1"]["bbh/navigate"]
    assert [(s["doc_id"], s["correct"], s["extracted"]) for s in samples] == [(0, True, docs[0]["target"]), (1, False, None)]
    s = load_run(tmp_path / "r").summary["variants"]["sm1"]["tasks"]["bbh/navigate"]
    assert s["unparsed"] == 1 and s["partial"] is True

    only_target = _write(tmp_path / "t.jsonl", [{"task": "bbh/navigate", "target": "Yes", "prediction": "Yes."}])
    assert main(["score", "--suite", "bbh", "--predictions", str(only_target), "--output", str(tmp_path / "t")]) == 0
    assert load_run(tmp_path / "t").summary["variants"]["sm1"]["tasks"]["bbh/navigate"]["accuracy"] == 100.0


@pytest.mark.parametrize("row,message", [
    ({"task": "bbh/nope", "doc_id": 0, "prediction": "x"}, "p.jsonl:2: unknown task 'bbh/nope'"),
    ({"task": "bbh/navigate", "doc_id": 999, "prediction": "x"}, "p.jsonl:2: field 'doc_id' = 999"),
    ({"task": "bbh/navigate", "doc_id": 1}, "p.jsonl:2: missing field 'prediction'"),
    ({"task": "bbh/navigate", "prediction": "x"}, "p.jsonl:2: needs 'doc_id', 'index', 'input' or 'target'"),
    ({"task": "bbh/navigate", "doc_id": 0, "prediction": "x"}, "p.jsonl:2: a second prediction for example 0"),
    ({"task": "agieval/lsat-ar", "doc_id": 0, "prediction": "x"}, "p.jsonl:2: task agieval/lsat-ar is not in the suite"),
])
def test_bad_prediction_lines(data_dir, tmp_path, capsys, row, message):
    preds = _write(tmp_path / "p.jsonl", [{"task": "bbh/navigate", "doc_id": 0, "prediction": "Yes"}, row])
    assert main(["score", "--suite", "bbh", "--predictions", str(preds), "--output", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "r").exists()


def test_run_json_lists_the_damaged_targets(data_dir, tmp_path):
    preds = _write(tmp_path / "p.jsonl", [{"task": "bbh/ruin_names", "doc_id": 0, "prediction": "(A)"}])
    assert main(["score", "--suite", "bbh", "--predictions", str(preds), "--output", str(tmp_path / "r")]) == 0
    damaged = load_run(tmp_path / "r").meta["data"]["damaged_targets"]
    assert damaged == {"bbh/ruin_names": ["dearth, wind, & fire", "rita, sue and bob poo"]}


def test_explain_prints_each_example_whose_verdict_differs(data_dir, tmp_path, capsys):
    docs = load_task_data("bbh/date_understanding", str(data_dir)).docs
    picked = [i for i, d in enumerate(docs) if d["target"] not in ("(A)", "(B)")][:3]
    a, b, c = picked
    letter = {i: docs[i]["target"].strip("()") for i in picked}
    rows = [
        # robust right, official wrong: the official rule reads the "A" of "Answer"
        {"task": "date_understanding", "doc_id": a, "prediction": f"Answer: {letter[a]}"},
        # official right, robust unparsed: two options in the final statement
        {"task": "date_understanding", "doc_id": b, "prediction": f"Perhaps ({letter[b]}) or (A)."},
        # same verdict under both: not listed
        {"task": "date_understanding", "doc_id": c, "prediction": f"({letter[c]})"},
    ]
    preds = _write(tmp_path / "p.jsonl", rows)
    assert main(["score", "--suite", "bbh", "--predictions", str(preds), "--output", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    assert main(["score", "--explain", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert f"#{a} target ({letter[a]}): robust {letter[a]} (right), official A (wrong)" in out
    assert f"Answer: {letter[a]}" in out
    assert f"#{b} target ({letter[b]}): robust unparsed (wrong), official {letter[b]} (right)" in out
    assert f"#{c} " not in out
    assert "1 right only under robust, 1 only under official" in out
    assert out.rstrip().splitlines()[-1].startswith("2 example(s) where the two extractors' verdicts differ")


def test_explain_takes_a_run_name_as_report_does(data_dir, tmp_path, monkeypatch, capsys):
    """`score --explain NAME` looks NAME up under results/runs, as `report NAME` does."""
    import harness.paths

    monkeypatch.setattr(harness.paths, "RUNS_DIR", tmp_path / "runs")
    docs = load_task_data("bbh/navigate", str(data_dir)).docs
    preds = _write(tmp_path / "p.jsonl", [{"task": "navigate", "doc_id": 0, "prediction": f"Answer: {docs[0]['target']}"}])
    assert main(["score", "--suite", "bbh/navigate", "--predictions", str(preds),
                 "--output", str(tmp_path / "runs" / "my-run")]) == 0
    capsys.readouterr()
    monkeypatch.chdir(tmp_path / "runs" / "my-run")  # "my-run" is a name here, not a path
    assert main(["score", "--explain", "my-run"]) == 0
    assert "where the two extractors' verdicts differ" in capsys.readouterr().out
    assert main(["score", "--explain", "no-such-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("orca-eval: error: no-such-run: run directory not found") and "\n" not in err


def test_score_needs_suite_and_predictions_unless_explaining(tmp_path, capsys):
    assert main(["score", "--suite", "bbh"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--suite and --predictions are required" in err and "\n" not in err
    assert main(["score", "--explain", str(tmp_path / "nope")]) == 2
    assert "run directory not found" in capsys.readouterr().err


# ----------------------------------------------------------------------------- refusals

def _bbh_predictions(path: Path, data_dir, rows: list[dict]) -> Path:
    return _write(path, rows)


def test_score_refuses_a_non_empty_folder_without_a_run(tmp_path, data_dir, capsys):
    preds = _bbh_predictions(tmp_path / "p.jsonl", data_dir,
                             [{"task": "bbh/navigate", "doc_id": 0, "prediction": "Yes"}])
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my own file")
    before = tree_bytes(folder)
    assert main(["score", "--suite", "bbh/navigate", "--predictions", str(preds), "--output", str(folder)]) == 2
    assert "not empty and holds no orca-eval run" in error_line(capsys)
    assert tree_bytes(folder) == before
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["score", "--suite", "bbh/navigate", "--predictions", str(preds), "--output", str(afile)]) == 2
    assert "is a file, not a directory" in error_line(capsys)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'{"model": "x"}'])
def test_score_with_a_corrupt_run_json_is_one_line(tmp_path, data_dir, capsys, content):
    preds = _bbh_predictions(tmp_path / "p.jsonl", data_dir,
                             [{"task": "bbh/navigate", "doc_id": 0, "prediction": "Yes"}])
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_bytes(content)
    assert main(["score", "--suite", "bbh/navigate", "--predictions", str(preds), "--output", str(folder)]) == 2
    err = error_line(capsys)
    assert "corrupt run.json" in err or "different model" in err
    assert (folder / "run.json").read_bytes() == content


@pytest.mark.parametrize("field, value", [("doc_id", True), ("doc_id", False), ("index", True), ("doc_id", 1.0),
                                          ("doc_id", "3"), ("doc_id", -1)])
def test_score_refuses_a_doc_id_that_is_not_an_integer(tmp_path, data_dir, capsys, field, value):
    preds = _bbh_predictions(tmp_path / "p.jsonl", data_dir,
                             [{"task": "bbh/navigate", field: value, "prediction": "Yes"}])
    assert main(["score", "--suite", "bbh/navigate", "--predictions", str(preds),
                 "--output", str(tmp_path / "r")]) == 2
    assert f"p.jsonl:1: field {field!r}" in error_line(capsys)
    assert not (tmp_path / "r").exists()


def test_score_target_only_rows_never_take_a_real_example_id(tmp_path, data_dir):
    docs = load_task_data("bbh/navigate", str(data_dir)).docs
    n = len(docs)
    rows = [{"task": "bbh/navigate", "target": "Yes", "prediction": "Yes"},   # used to become doc_id 0 ...
            {"task": "bbh/navigate", "target": "No", "prediction": "Yes"},
            {"task": "bbh/navigate", "doc_id": 0, "prediction": docs[0]["target"]},  # ... and collide here
            {"task": "bbh/navigate", "doc_id": 1, "prediction": docs[1]["target"]}]
    preds = _bbh_predictions(tmp_path / "p.jsonl", data_dir, rows)
    assert main(["score", "--suite", "bbh/navigate", "--predictions", str(preds), "--output", str(tmp_path / "r")]) == 0
    samples = load_run(tmp_path / "r").samples["sm1"]["bbh/navigate"]
    by_id = {r["doc_id"]: r for r in samples}
    assert sorted(by_id) == [0, 1, n, n + 1]
    assert by_id[0]["prompt_sha"] and by_id[1]["prompt_sha"]   # the real examples, as located
    assert by_id[n]["prompt_sha"] is None and by_id[n]["correct"] is True
    assert by_id[n + 1]["correct"] is False


@pytest.mark.parametrize("row, expected", [
    ({"task": 5, "doc_id": 0, "prediction": "Yes"}, "p.jsonl:1: field 'task' must be a string, got 5"),
    ({"doc_id": 0, "prediction": "Yes"}, "p.jsonl:1: missing field 'task'"),
    ({"task": "bbh/navigate", "doc_id": 0, "prediction": 1}, "p.jsonl:1: field 'prediction' must be a string, got 1"),
    ({"task": "bbh/navigate", "doc_id": 0}, "p.jsonl:1: missing field 'prediction'"),
])
def test_prediction_fields_wrong_type_versus_missing(tmp_path, capsys, row, expected):
    p = tmp_path / "p.jsonl"
    p.write_text(json.dumps(row) + "\n")
    assert expected in one_line_error(capsys, ["score", "--suite", "bbh/navigate", "--predictions", p,
                                               "--output", tmp_path / "out"])
