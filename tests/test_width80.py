"""Output to a pipe or log fits 80 columns (docs/errors.md, "Narrow terminals, pipes and
logs"). Before: `data lengths` printed a 116-column table, `models` lines of 136
characters, `compare` 150-column tables into pipes and CI logs, and `report` at 80
columns fell back to 292 lines of long format."""
from __future__ import annotations

import json

import pytest

from harness.cli import main
from harness.data import SUITES, load_task_data


def _width(text: str) -> int:
    """The widest line, a path printed whole on its own line ("base:  PATH") aside."""
    return max(len(line) for line in text.splitlines() if not line.startswith(("base:", "candidate:")))


def _scored(tmp_path, data_dir, suite, capsys):
    rows = []
    for t in SUITES[suite]:
        docs = load_task_data(t, str(data_dir)).docs[:5]
        for i, d in enumerate(docs):
            rows.append({"task": t, "doc_id": i, "prediction": d["label"] if suite == "agieval" else d["target"]})
    preds = tmp_path / f"{suite}.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / suite
    assert main(["score", "--suite", suite, "--predictions", str(preds), "--output", str(out)]) == 0
    capsys.readouterr()
    return out


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)


def test_compare_in_a_pipe_fits_80_columns(tmp_path, data_dir, capsys):
    agieval = _scored(tmp_path, data_dir, "agieval", capsys)
    assert main(["compare", str(agieval), str(agieval)]) == 0
    out = capsys.readouterr().out
    assert _width(out) <= 80 and "…" not in out
    assert any(line.split()[:2] == ["task", "n"] for line in out.splitlines())  # a table, not the long format
    bbh = _scored(tmp_path, data_dir, "bbh", capsys)
    assert main(["compare", str(bbh), str(bbh)]) == 0
    out = capsys.readouterr().out
    assert _width(out) <= 80 and "…" not in out and "tracking_shuffled_objects_seven_objects" in out


def test_report_in_a_pipe_splits_wide_tables_instead_of_the_long_format(tmp_path, data_dir, capsys):
    run = _scored(tmp_path, data_dir, "agieval", capsys)
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out
    assert _width(out) <= 80 and "…" not in out
    assert "(1 of " in out and len(out.splitlines()) < 150
    assert "\n  GPT-4: " not in out  # no long-format lines


def test_models_fits_80_columns_except_a_whole_path(capsys):
    assert main(["models"]) == 0
    for line in capsys.readouterr().out.splitlines():
        assert len(line) <= 80 or len(line.split()) == 1, line


def test_data_lengths_fits_80_columns(tmp_path, capsys):
    rows = [{"id": f"q{i}", "model": m, "status": "ok", "response": "word " * (w + i),
             "usage": {"prompt_tokens": 10, "completion_tokens": w + i}}
            for m, w in (("gpt-3.5-turbo-0613", 30), ("gpt-4-0613", 90)) for i in range(4)]
    f = tmp_path / "out.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["data", "lengths", str(f)]) == 0
    out = capsys.readouterr().out
    assert _width(out) <= 80 and "…" not in out and "gpt-3.5-turbo-0613" in out
