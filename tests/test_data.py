"""Data loading, suites, and clear errors on bad data."""
import json

import pytest

from harness.data import SUITES, load_task_data, resolve_tasks
from harness.suites import get_suite

parse_agieval_jsonl = get_suite("agieval").read_file
parse_bbh_json = get_suite("bbh").read_file
from orca.errors import UserError
from harness.cli import main


def test_suite_sizes_match_the_paper(data_dir):
    agieval = sum(len(load_task_data(t, str(data_dir)).docs) for t in SUITES["agieval"])
    bbh = sum(len(load_task_data(t, str(data_dir)).docs) for t in SUITES["bbh"])
    assert (len(SUITES["agieval"]), agieval) == (8, 2546)
    assert (len(SUITES["bbh"]), bbh) == (27, 6511)


def test_resolve_tasks():
    def keys(spec):
        return [t.key for t in resolve_tasks(spec)]

    assert keys("agieval/lsat-ar") == ["agieval/lsat-ar"]
    assert keys("navigate") == ["bbh/navigate"]
    assert keys("all") == SUITES["agieval"] + SUITES["bbh"]
    assert len(resolve_tasks("agieval,bbh/navigate")) == 9
    with pytest.raises(UserError, match="did you mean agieval/lsat-ar"):
        resolve_tasks("agieval/lsat_ar")
    with pytest.raises(UserError, match="unknown suite or task 'mmlu'"):
        resolve_tasks("mmlu")


def test_upstream_layouts_are_accepted(tmp_path, data_dir):
    # AGIEval's repository keeps data/v1/*.jsonl; BIG-Bench-Hard's keeps bbh/*.json.
    (tmp_path / "data" / "v1").mkdir(parents=True)
    src = (data_dir / "agieval" / "v1" / "lsat-ar.jsonl").read_text()
    (tmp_path / "data" / "v1" / "lsat-ar.jsonl").write_text(src)
    td = load_task_data("agieval/lsat-ar", str(tmp_path))
    assert len(td.docs) == 230 and td.source.endswith("data/v1/lsat-ar.jsonl")


def test_malformed_agieval_line_names_file_and_line(tmp_path):
    good = {"passage": None, "question": "Q?", "options": ["(A)x", "(B)y"], "label": "A"}
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps(good) + "\n" + "{not json\n")
    with pytest.raises(UserError, match=r"t\.jsonl:2: malformed JSON"):
        parse_agieval_jsonl(p)
    p.write_text(json.dumps({**good, "label": "E"}) + "\n")
    with pytest.raises(UserError, match=r"t\.jsonl:1: field 'label' must be one of AB"):
        parse_agieval_jsonl(p)
    p.write_text(json.dumps({k: v for k, v in good.items() if k != "options"}) + "\n")
    with pytest.raises(UserError, match=r"t\.jsonl:1: missing field 'options'"):
        parse_agieval_jsonl(p)


def test_malformed_bbh_file(tmp_path):
    p = tmp_path / "navigate.json"
    p.write_text(json.dumps({"examples": [{"input": "x", "target": "Yes"}, {"input": "y"}]}))
    with pytest.raises(UserError, match=r"examples\[1\]: missing or non-string field 'target'"):
        parse_bbh_json(p)
    p.write_text('{"examples": [')
    with pytest.raises(UserError, match=r"navigate\.json:1: malformed JSON"):
        parse_bbh_json(p)


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["run", "--suite", "agieval", "--data-dir", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist" in err
    (tmp_path / "agieval" / "v1").mkdir(parents=True)
    assert main(["run", "--suite", "agieval/lsat-ar", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "agieval/lsat-ar: data file not found" in err
