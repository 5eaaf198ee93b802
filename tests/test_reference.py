"""The published reference numbers: transcription, averages, check marks, format validation."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.data import SUITES
from orca.errors import UserError
from harness.reference import (REFERENCE_DIR, available_references, average_consistency, load_reference,
                               load_references, round_half_up)

AGIEVAL_TASKS = SUITES["agieval"]
PAPER_MD = Path(__file__).resolve().parents[2] / "shared" / "reference" / "orca-paper.md"


@pytest.fixture(scope="module")
def paper():
    return load_reference("orca-paper")


def test_task_sets_use_our_task_keys(paper):
    assert paper.suites["agieval"].tasks == AGIEVAL_TASKS
    bbh = paper.suites["bbh"]
    assert len(bbh.tasks) == 23
    assert sorted(bbh.tasks + bbh.excluded_tasks) == sorted(SUITES["bbh"])
    assert sorted(bbh.excluded_tasks) == ["bbh/dyck_languages", "bbh/multistep_arithmetic_two",
                                          "bbh/object_counting", "bbh/word_sorting"]
    assert [m.name for m in paper.suites["agieval"].models] == [
        "Human", "Text-Davinci-003", "ChatGPT", "GPT-4", "Vicuna-13B", "Orca-13B"]
    assert [m.name for m in bbh.models] == ["ChatGPT", "GPT-4", "Vicuna-13B", "Orca-13B"]
    assert paper.suites["agieval"].table == "Table 8" and bbh.table == "Table 11"
    assert "2306.02707" in paper.citation


def test_spot_cells(paper):
    ag, bbh = paper.suites["agieval"], paper.suites["bbh"]
    assert ag.model("Orca-13B").scores["agieval/logiqa-en"] == 35.2
    assert ag.model("Human").scores["agieval/sat-math"] == 95
    assert ag.model("Text-Davinci-003").scores["agieval/sat-en-without-passage"] == 46.1
    assert bbh.model("GPT-4").scores["bbh/temporal_sequences"] == 98.0
    assert bbh.model("Vicuna-13B").scores["bbh/logical_deduction_seven_objects"] == 1.2
    assert bbh.model("Orca-13B").scores["bbh/movie_recommendation"] == 78.3


def _md_table(md: str, heading: str) -> list[list[str]]:
    section = md.split(heading, 1)[1]
    rows = []
    for line in section.splitlines():
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not cells[0].startswith("---"):
            rows.append(cells)
    return rows


@pytest.mark.skipif(not PAPER_MD.exists(), reason=f"{PAPER_MD} not present (outside this workplace)")
def test_every_cell_matches_the_source_notes(paper):
    md = PAPER_MD.read_text(encoding="utf-8")
    for suite, heading in [("agieval", "## AGIEval, zero-shot"), ("bbh", "## Big-Bench Hard, zero-shot")]:
        rows = _md_table(md, heading)
        header, body, avg_row = rows[0], rows[1:-1], rows[-1]
        ref = paper.suites[suite]
        assert [m.name for m in ref.models] == header[1:]
        assert [ref.labels[t] if suite == "agieval" else t.split("/", 1)[1] for t in ref.tasks] == [r[0] for r in body]
        for j, model in enumerate(ref.models, 1):
            assert [model.scores[t] for t in ref.tasks] == [float(r[j]) for r in body], model.name
            printed = [float(x) for x in re.findall(r"\d+\.\d+|\d+", avg_row[j])]
            assert model.published_average == printed, model.name
            assert ("check" in avg_row[j]) <= bool(model.average_check), model.name


def test_unmarked_averages_reproduce_exactly(paper):
    checked = 0
    for suite in paper.suites.values():
        for model in suite.models:
            if model.average_check:
                continue
            c = average_consistency(model, suite.tasks)
            assert c["matches"] == model.published_average, (suite.suite, model.name, c)
            assert c["max_gap"] <= 0.05 + 1e-9
            checked += 1
    assert checked == 8  # ChatGPT, GPT-4, Vicuna-13B, Orca-13B on both suites


def test_check_marked_averages_are_bounded_and_justified(paper):
    ag = paper.suites["agieval"]
    marked = {m.name: average_consistency(m, ag.tasks) for s in paper.suites.values()
              for m in s.models if m.average_check}
    assert set(marked) == {"Human", "Text-Davinci-003"}
    human, davinci = marked["Human"], marked["Text-Davinci-003"]
    assert human["printed"] == 84.0 and ag.model("Human").published_average == [84.1] and human["matches"] == []
    assert davinci["printed"] == 42.9 and davinci["matches"] == [42.9]
    assert ag.model("Text-Davinci-003").published_average == [41.9, 42.9]
    for name, c in marked.items():
        # bounded: within 0.1 of some published value; justified: some published value disagrees
        assert c["min_gap"] <= 0.1 + 1e-9, name
        assert len(c["matches"]) < len(ag.model(name).published_average), f"{name}: check mark no longer needed"


def test_cell_checks_cover_agieval_only(paper):
    ag, bbh = paper.suites["agieval"], paper.suites["bbh"]
    assert ag.cell_check(ag.model("ChatGPT"), "agieval/lsat-ar") == "The per-task cells are from one source only."
    assert bbh.cell_check(bbh.model("ChatGPT"), "bbh/navigate") is None


def test_orca_relative_to_chatgpt(paper):
    ag = paper.suites["agieval"]
    ratio = ag.model("Orca-13B").average(ag.tasks) / ag.model("ChatGPT").average(ag.tasks)
    assert round(100 * ratio) == 88
    assert round(100 * 41.7 / 47.2) == 88


def test_round_half_up():
    assert round_half_up(42.8625) == 42.9
    assert round_half_up(41.675) == 41.7
    assert round_half_up(0.25) == 0.3  # built-in round gives 0.2


def test_openorca_is_suite_level_only():
    ref = load_reference("openorca")
    m = ref.suites["bbh"].model("OpenOrca x OpenChat Preview2-13B")
    assert m.suite_only and m.published_average == [48.8] and m.average() is None
    assert ref.suites["agieval"].models[0].published_average == [44.7]


def _write(dirpath: Path, name: str, obj) -> Path:
    path = dirpath / f"{name}.json"
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def _minimal(**model_overrides):
    model = {"name": "M", "kind": "model", "scores": {"agieval/lsat-ar": 20.0, "agieval/lsat-lr": 30.0},
             "average": {"published": [25.0]}}
    model.update(model_overrides)
    return {"format": "orca-eval-reference/1", "name": "other", "citation": {"paper": "Someone et al. 2024, Table 1"},
            "suites": {"agieval": {"table": "Table 1", "tasks": [{"key": "agieval/lsat-ar"}, {"key": "agieval/lsat-lr"}],
                                   "models": [model]}}}


def test_one_more_set_is_one_more_file(tmp_path):
    for name in ("orca-paper", "openorca"):
        (tmp_path / f"{name}.json").write_text((REFERENCE_DIR / f"{name}.json").read_text())
    _write(tmp_path, "other", _minimal())
    assert available_references(tmp_path) == ["openorca", "orca-paper", "other"]
    sets = load_references(["all"], tmp_path)
    assert [s.name for s in sets] == ["orca-paper", "openorca", "other"]
    other = sets[2].suites["agieval"].model("M")
    assert other.average() == 25.0 and sets[2].citation == "Someone et al. 2024, Table 1"
    assert load_references(["none"], tmp_path) == []


@pytest.mark.parametrize("override, message", [
    ({"scores": {"agieval/lsat-ar": 120, "agieval/lsat-lr": 30}}, r"models\[M\]\.scores\[agieval/lsat-ar\]: expected a percentage"),
    ({"scores": {"agieval/lsat-ar": 20}}, r"models\[M\]\.scores: missing task 'agieval/lsat-lr'"),
    ({"scores": {"agieval/lsat-ar": 20, "agieval/lsat-lr": 30, "agieval/sat-x": 1}}, r"task 'agieval/sat-x' is not listed"),
    ({"average": {"published": [25.0, 26.0]}}, r"several published values need a 'check' reason"),
    ({"average": {"published": [25.0], "check": ""}}, r"average\.check: expected a non-empty string"),
    ({"average": {}}, r"average\.published: expected a non-empty list"),
    ({"kind": "robot"}, r"\.kind: expected 'model' or 'human'"),
])
def test_bad_reference_files_name_file_and_field(tmp_path, override, message):
    path = _write(tmp_path, "bad", _minimal(**override))
    with pytest.raises(UserError, match=message) as e:
        load_reference("bad", tmp_path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_unknown_set_and_broken_json(tmp_path):
    with pytest.raises(UserError, match=r"unknown reference set 'nope' \(known: openorca, orca-paper"):
        load_reference("nope")
    (tmp_path / "broken.json").write_text('{"format": "orca-eval-reference/1",\n "name": }')
    with pytest.raises(UserError, match=r"broken\.json:2: invalid JSON"):
        load_reference("broken", tmp_path)
    _write(tmp_path, "oldformat", {**_minimal(), "format": "v0"})
    with pytest.raises(UserError, match="field 'format' must be"):
        load_reference("oldformat", tmp_path)
