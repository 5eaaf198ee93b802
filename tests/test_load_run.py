"""Reading a run directory (harness.results.load_run), as `report`, `compare` and `report --flips`
do: samples that are not there are reported as missing (not as "different tasks" or "no shared
examples"); a field of the wrong type says so and is not called missing; JSON of the wrong
shape is one `orca-eval: error:` line naming the file, the line and the field."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import BASELINE, copy_run, one_line_error, samples_file


# ----------------------------------------------------------------------------- a run without its samples

@pytest.mark.parametrize("remove", ["samples", "samples/sm1", "samples/sm1/bbh__date_understanding.jsonl"])
@pytest.mark.parametrize("command", ["compare", "flips"])
def test_missing_samples_are_reported_as_missing(tmp_path, capsys, remove, command):
    run = copy_run(tmp_path)
    target = run / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    argv = ["compare", BASELINE, run] if command == "compare" else ["report", "--flips", BASELINE, run]
    err = one_line_error(capsys, argv)
    assert f"{target}: missing" in err, err
    for misleading in ("different tasks", "no shared examples", "share no examples", "in common"):
        assert misleading not in err


# ----------------------------------------------------------------------------- wrong type is not "missing"

def _summary_field(run: Path, **task_fields) -> None:
    s = json.loads((run / "summary.json").read_text())
    s["variants"]["sm1"]["tasks"]["bbh/date_understanding"].update(task_fields)
    (run / "summary.json").write_text(json.dumps(s))


def _sample_field(run: Path, **fields) -> None:
    f = run / "samples" / "sm1" / "bbh__date_understanding.jsonl"
    rows = [json.loads(x) for x in f.read_text().splitlines()]
    rows[2].update(fields)
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize("mutate, argv_kind, expected", [
    (lambda r: _summary_field(r, accuracy="41.7"), "report",
     "bbh/date_understanding: field 'accuracy' must be a number, got a string ('41.7')"),
    (lambda r: _summary_field(r, n=12.5), "report", "field 'n' must be an integer, got a number (12.5)"),
    (lambda r: _summary_field(r, n=True), "report", "field 'n' must be an integer, got a boolean"),
    (lambda r: _sample_field(r, correct="yes"), "compare",
     "bbh__date_understanding.jsonl:3: field 'correct' must be true or false, got a string ('yes')"),
    (lambda r: _sample_field(r, repeat="0"), "compare", ":3: field 'repeat' must be an integer, got a string"),
    (lambda r: _sample_field(r, user_sha=7), "flips", ":3: field 'user_sha' must be a string or null, got an integer"),
], ids=["accuracy-string", "n-float", "n-bool", "correct-string", "repeat-string", "user_sha-int"])
def test_a_field_of_the_wrong_type_is_not_called_missing(tmp_path, capsys, mutate, argv_kind, expected):
    run = copy_run(tmp_path)
    mutate(run)
    argv = {"report": ["report", run], "compare": ["compare", BASELINE, run],
            "flips": ["report", "--flips", BASELINE, run]}[argv_kind]
    err = one_line_error(capsys, argv)
    assert expected in err and "missing" not in err


def test_an_absent_field_is_still_called_missing(tmp_path, capsys):
    run = copy_run(tmp_path)
    s = json.loads((run / "summary.json").read_text())
    del s["variants"]["sm1"]["tasks"]["bbh/date_understanding"]["accuracy"]
    (run / "summary.json").write_text(json.dumps(s))
    assert "bbh/date_understanding: missing field 'accuracy'" in one_line_error(capsys, ["report", run])


# ----------------------------------------------------------------------------- JSON of the wrong shape

def _edit_json(path: Path, **fields) -> None:
    obj = json.loads(path.read_text())
    obj.update(fields)
    path.write_text(json.dumps(obj))


@pytest.mark.parametrize("mutate, command, expected", [
    (lambda r: (r / "run.json").write_text("[1, 2]"), "report",
     "run.json: expected a JSON object at the top level, got a list"),
    (lambda r: (r / "summary.json").write_text('"done"'), "report",
     "summary.json: expected a JSON object at the top level, got a string"),
    (lambda r: _edit_json(r / "summary.json", variants=["sm1"]), "report",
     "summary.json: field 'variants' must be an object, got a list"),
    (lambda r: _edit_json(r / "summary.json", variants={"sm1": {"tasks": {"bbh/navigate": "50 %"}}}), "report",
     "summary.json: variants.sm1.tasks.bbh/navigate must be an object, got a string"),
    (lambda r: _edit_json(r / "summary.json", variants={"sm1": {"tasks": {"bbh/navigate": {"accuracy": "50",
                                                                                           "n": 4}}}}),
     "report", "summary.json: variants.sm1.tasks.bbh/navigate: field 'accuracy' must be a number, got a string"),
    (lambda r: _edit_json(r / "run.json", model="hf:x"), "compare",
     "run.json: field 'model' must be an object, got a string"),
    (lambda r: _edit_json(r / "run.json", decoding=[0.0]), "compare",
     "run.json: field 'decoding' must be an object or null, got a list"),
    (lambda r: _edit_json(r / "run.json", variants=["sm1"]), "compare",
     "run.json: field 'variants' must be an object, got a list"),
    (lambda r: samples_file(r).write_text(samples_file(r).read_text().replace('"doc_id": 0,', '"doc_id": "0",', 1)),
     "flips", ":1: field 'doc_id' must be an integer, got a string"),
    (lambda r: samples_file(r).write_text(samples_file(r).read_text().replace('"doc_id": 0,', '"doc_id": null,', 1)),
     "compare", ":1: field 'doc_id' must be an integer, got null"),
    (lambda r: samples_file(r).write_text('["doc_id", 0]\n'), "compare", ":1: expected a JSON object"),
], ids=["run-list", "summary-string", "variants-list", "task-string", "accuracy-string", "model-string",
        "decoding-list", "run-variants-list", "doc_id-string", "doc_id-null", "sample-list"])
def test_wrong_json_shape_in_a_run_is_one_line(tmp_path, capsys, mutate, command, expected):
    run = copy_run(tmp_path)
    mutate(run)
    argv = {"report": ["report", run], "compare": ["compare", run, BASELINE],
            "flips": ["report", "--flips", run, BASELINE]}[command]
    assert expected in one_line_error(capsys, argv)
