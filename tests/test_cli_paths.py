"""Paths of the wrong kind on the command line: a directory given for a file, or a file for a
directory, is named as such in one `orca-eval: error:` line -- never "not found", which stays
for a path that is truly absent -- and nothing is written."""
from __future__ import annotations

from pathlib import Path

from helpers import BASELINE, NO_API, copy_run, one_line_error, write

ROOT = Path(__file__).resolve().parent.parent


def test_a_directory_given_for_a_file_says_so(tmp_path, capsys):
    d = tmp_path / "a-dir"
    d.mkdir()
    cases = [
        (["score", "--suite", "bbh/navigate", "--predictions", d], f"{d}: is a directory, not a predictions file"),
        (["data", "collect", "--queries", d, "--model", "m", "--out", tmp_path / "c.jsonl"],
         f"{d}: is a directory, not a queries file"),
        (["train", "--config", d], f"{d}: is a directory, not a config file"),
        (["pipeline", "--config", d], f"{d}: is a directory, not a config file"),
        (["data", "lengths", d], f"{d}: is a directory, not a collection output"),
    ]
    for argv, expected in cases:
        err = one_line_error(capsys, argv)
        assert expected in err and "not found" not in err, err
    run = copy_run(tmp_path)
    (run / "run.json").unlink()
    (run / "run.json").mkdir()
    assert f"{run / 'run.json'}: is a directory, not a file" in one_line_error(capsys, ["report", run])
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert f"{a_file}: is a file, not a run directory" in one_line_error(capsys, ["compare", a_file, BASELINE])
    assert f"{a_file}: is a file, not a run directory" in one_line_error(capsys, ["report", a_file])
    assert f"{a_file}: is a file, not a runs directory" in one_line_error(capsys, ["report", "--all", "--runs-dir",
                                                                                 a_file])
    # and a path that is truly absent is still "not found"
    assert "not found" in one_line_error(capsys, ["train", "--config", tmp_path / "nope.yaml"])


def test_file_where_a_directory_is_expected(tmp_path, capsys):
    from helpers import make_rows, write_jsonl

    a_file = write(tmp_path / "a-file", "x")
    pred = write(tmp_path / "p.jsonl", '{"task": "bbh/navigate", "doc_id": 0, "prediction": "Yes"}\n')
    err = one_line_error(capsys, ["score", "--suite", "bbh/navigate", "--predictions", pred, "--output", a_file])
    assert f"{a_file}: is a file, not a directory" in err
    flan = write_jsonl(tmp_path / "flan.jsonl", make_rows())
    err = one_line_error(capsys, ["data", "sample", "--flan", flan, "--out-dir", a_file, "--scale", "0.001"])
    assert f"{a_file}: is a file, not a directory" in err
    pipe = write(tmp_path / "p.yaml", f"run_dir: {a_file}\ntrain: {{stages: [{{name: s1, init: 'tiny:0'}}]}}\n"
                                      f"data: {{s1: {ROOT / 'configs/data/tiny_chatgpt.jsonl'}}}\n")
    assert f"{a_file}: is a file, not a directory" in one_line_error(capsys, ["pipeline", "--config", pipe])
    err = one_line_error(capsys, ["report", BASELINE, "--format", "markdown", "--out", a_file / "r.md"])
    assert f"{a_file} is a file, not a directory" in err
    assert a_file.read_text() == "x"


def test_directory_where_a_file_is_expected(tmp_path, capsys):
    a_dir = tmp_path / "a-dir"
    a_dir.mkdir()
    err = one_line_error(capsys, ["compare", BASELINE, BASELINE, "--out", a_dir])
    assert f"--out {a_dir}: is a directory" in err
    q = write(tmp_path / "q.jsonl", '{"id":"1","query":"hi","system_message_id":1}\n')
    err = one_line_error(capsys, ["data", "collect", "--queries", q, "--model", "m", "--base-url", NO_API,
                                  "--out", a_dir])
    assert f"{a_dir}: is a directory, not a file" in err
    assert list(a_dir.iterdir()) == []
