"""Issue 13, class 5: messages that named the wrong cause now name the right one.

Members tried: a run without its samples (all of them, one variant's, one task's); a field
present with the wrong type (said "missing"); a directory given where a file is expected
(said "not found"); an HF run and an API run of the same examples (refused as different
data because the rendered prompt was the example's identity) -- and `compare` and
`report --flips` agreeing on what the same example is."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.compare.runs import compare_runs
from orca.errors import UserError
from harness.compare.flips import find_flips
from helpers import one_line_error
from orca.io import sha256_text
from harness.results import load_run, summarize_variant, write_run_meta, write_samples, write_summary

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "results" / "baselines" / "ci-tiny"


def copy_run(tmp_path: Path, name: str = "run") -> Path:
    return Path(shutil.copytree(BASELINE, tmp_path / name))


# ----------------------------------------------------------------- a run without its samples

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


# ----------------------------------------------------------------- wrong type is not "missing"

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


# ----------------------------------------------------------------- a directory is not "not found"

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


# ----------------------------------------------------------------- one pairing rule

DOCS = [{"input": f"Question {i}: is {i} even?", "target": "Yes" if i % 2 == 0 else "No"} for i in range(12)]
TASK = "bbh/web_of_lies"


def write_run(run_dir: Path, correct: list[bool], render, *, user=lambda d: d["input"], targets=None,
              with_user_sha: bool = True, system_message: str = "") -> Path:
    """A finished run whose rows carry prompt_sha of `render(user prompt)` (the backend's
    template) and, unless an old-format run is wanted, user_sha of the user prompt."""
    rows = []
    for i, (doc, ok) in enumerate(zip(DOCS, correct)):
        u = user(doc)
        row = {"doc_id": i, "repeat": 0, "prompt_sha": sha256_text(render(u))[:16], "output": "x",
               "extracted": doc["target"] if ok else "?", "target": (targets or {}).get(i, doc["target"]),
               "correct": ok, "extracted_official": None, "correct_official": ok}
        if with_user_sha:
            row["user_sha"] = sha256_text(u)[:16]
        rows.append(row)
    write_samples(run_dir, "sm1", TASK, rows)
    write_summary(run_dir, {"variants": {"sm1": summarize_variant({TASK: rows})}})
    write_run_meta(run_dir, {"name": run_dir.name, "model": {"spec": run_dir.name}, "tasks": [TASK],
                             "mode": "generate", "prompt_style": "orca",
                             "variants": {"sm1": {"system_message": system_message, "system_message_id": 1}},
                             "decoding": {"temperature": 0.0}, "limit": None})
    return run_dir


def orca_template(user: str) -> str:     # a base model without a chat template (orca/template.py's form)
    return f"### System:\n\n### User:\n{user}\n\n### Response:\n"


def api_messages(user: str) -> str:      # what the OpenAI backend hashes: the message list
    return json.dumps([{"role": "system", "content": ""}, {"role": "user", "content": user}])


BASE = [i % 3 != 0 for i in range(12)]
CAND = [i % 4 != 0 for i in range(12)]


def both_pairings(a: Path, b: Path):
    """(compare's outcome, flips' outcome): the number of paired examples, or the error."""
    out = []
    for pair in (lambda: compare_runs(a, b, bootstrap=200).tasks[0].n,
                 lambda: find_flips(load_run(a), load_run(b)).total("shared")):
        try:
            out.append(pair())
        except UserError as e:
            out.append(str(e))
    return out


def test_hf_and_api_runs_of_the_same_examples_pair_with_a_note(tmp_path):
    hf = write_run(tmp_path / "hf", BASE, orca_template)
    api = write_run(tmp_path / "api", CAND, api_messages)
    c = compare_runs(hf, api, bootstrap=200)
    assert c.tasks[0].n == 12
    assert any("different prompt templates" in n and "12 paired example(s)" in n for n in c.notes), c.notes
    flips = find_flips(load_run(hf), load_run(api))
    assert flips.total("shared") == 12 and any("different prompt templates" in n for n in flips.notes)
    expected_flips = sum(a != b for a, b in zip(BASE, CAND))
    assert len(flips.flips) == expected_flips == c.tasks[0].lost + c.tasks[0].gained


@pytest.mark.parametrize("variant, expected", [
    ({}, 12),                                                                       # same everything
    ({"render": api_messages}, 12),                                                 # template only
    ({"user": lambda d: "Q: " + d["input"] + "\nA:"}, "12 with a different user prompt"),  # prompt style
    ({"targets": {3: "Maybe"}}, "1 with a different target (different data files)"),
    ({"with_user_sha": False}, 12),                                                 # an old run, same render
    ({"with_user_sha": False, "render": api_messages}, "12 with a different rendered prompt"),
], ids=["same", "template", "user-prompt", "target", "old-run", "old-run-other-template"])
def test_compare_and_flips_agree_on_the_same_example(tmp_path, variant, expected):
    base = write_run(tmp_path / "base", BASE, orca_template)
    cand = write_run(tmp_path / "cand", CAND, **{"render": orca_template, **variant})
    got_compare, got_flips = both_pairings(base, cand)
    if isinstance(expected, int):
        assert got_compare == got_flips == expected
    else:
        assert expected in got_compare and expected in got_flips, (got_compare, got_flips)
        assert "use the same data and --limit" not in got_compare


def test_old_and_new_runs_of_one_template_still_pair(tmp_path):
    """The committed baselines have no user_sha: against a new run of the same template
    (same rendered prompts) they pair as before."""
    old = write_run(tmp_path / "old", BASE, orca_template, with_user_sha=False)
    new = write_run(tmp_path / "new", CAND, orca_template)
    assert both_pairings(old, new) == [12, 12]
    assert load_run(BASELINE).samples["sm1"]  # the baseline itself still loads without user_sha


def test_limit_difference_is_named(tmp_path, capsys):
    base = write_run(tmp_path / "base", BASE, orca_template)
    cand = write_run(tmp_path / "cand", CAND, orca_template)
    f = cand / "samples" / "sm1" / "bbh__web_of_lies.jsonl"
    f.write_text("".join(f.read_text().splitlines(keepends=True)[:5]))
    err = one_line_error(capsys, ["compare", base, cand])
    assert "7 doc_id(s) only in base, 0 only in candidate" in err and "--intersection" in err


@pytest.mark.slow
def test_hf_run_and_api_run_end_to_end(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    """A real HF run (tiny checkpoint, Orca template) and a real API run (the fake OpenAI
    server) of the same 4 examples compare, with the template difference as a note."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from openai_server import FakeOpenAIServer

    common = ["run", "--suite", "bbh/navigate", "--limit", "4", "--max-new-tokens", "4", "--no-progress"]
    assert main(common + ["--model", f"hf:{tiny_checkpoint}", "--output", str(tmp_path / "hf")]) == 0
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer(api_key="sk-test") as srv:
        assert main(common + ["--model", "openai:gpt-4", "--base-url", srv.base_url,
                              "--output", str(tmp_path / "api")]) == 0
    capsys.readouterr()
    hf, api = load_run(tmp_path / "hf"), load_run(tmp_path / "api")
    h, a = hf.samples["sm1"]["bbh/navigate"][0], api.samples["sm1"]["bbh/navigate"][0]
    assert h["user_sha"] == a["user_sha"] and h["prompt_sha"] != a["prompt_sha"]
    assert main(["compare", str(tmp_path / "hf"), str(tmp_path / "api"), "--format", "json"]) == 0
    comparison = json.loads(capsys.readouterr().out)
    assert comparison["tasks"][0]["n"] == 4
    assert any("different prompt templates" in n for n in comparison["notes"])
    assert main(["report", "--flips", str(tmp_path / "hf"), str(tmp_path / "api"), "--format", "markdown"]) == 0
    assert "| total |  | 4 |" in capsys.readouterr().out
