"""Which examples of two runs are the same example: `compare` and `report --flips` pair them by
one rule. An HF run and an API run of the same examples pair, with a note on their different
prompt templates (the rendered prompt used to be the example's identity, and they were refused
as different data); a different user prompt, target or --limit is named; runs written before
user_sha was kept still pair with new runs of the same template."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.compare.flips import find_flips
from harness.compare.runs import compare_runs
from harness.results import load_run
from helpers import BASELINE, one_line_error, write_synthetic_run
from orca.errors import UserError
from orca.io import sha256_text


DOCS = [{"input": f"Question {i}: is {i} even?", "target": "Yes" if i % 2 == 0 else "No"} for i in range(12)]
TASK = "bbh/web_of_lies"


def write_templated_run(run_dir: Path, correct: list[bool], render, *, user=lambda d: d["input"], targets=None,
                        with_user_sha: bool = True, system_message: str = "") -> Path:
    """A finished run whose rows carry prompt_sha of `render(user prompt)` (the backend's
    template) and, unless an old-format run is wanted, user_sha of the user prompt. (The
    runs of compare and report tests, without templates: helpers.write_run, helpers.make_run.)"""
    def row(variant, task, i, item):
        doc, ok = item
        u = user(doc)
        r = {"doc_id": i, "repeat": 0, "prompt_sha": sha256_text(render(u))[:16], "output": "x",
             "extracted": doc["target"] if ok else "?", "target": (targets or {}).get(i, doc["target"]),
             "correct": ok, "extracted_official": None, "correct_official": ok}
        return {**r, "user_sha": sha256_text(u)[:16]} if with_user_sha else r

    return write_synthetic_run(run_dir, {"sm1": {TASK: list(zip(DOCS, correct))}}, row, {
        "name": run_dir.name, "model": {"spec": run_dir.name}, "tasks": [TASK], "mode": "generate",
        "prompt_style": "orca", "variants": {"sm1": {"system_message": system_message, "system_message_id": 1}},
        "decoding": {"temperature": 0.0}, "limit": None})


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
    hf = write_templated_run(tmp_path / "hf", BASE, orca_template)
    api = write_templated_run(tmp_path / "api", CAND, api_messages)
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
    base = write_templated_run(tmp_path / "base", BASE, orca_template)
    cand = write_templated_run(tmp_path / "cand", CAND, **{"render": orca_template, **variant})
    got_compare, got_flips = both_pairings(base, cand)
    if isinstance(expected, int):
        assert got_compare == got_flips == expected
    else:
        assert expected in got_compare and expected in got_flips, (got_compare, got_flips)
        assert "use the same data and --limit" not in got_compare


def test_old_and_new_runs_of_one_template_still_pair(tmp_path):
    """The committed baselines have no user_sha: against a new run of the same template
    (same rendered prompts) they pair as before."""
    old = write_templated_run(tmp_path / "old", BASE, orca_template, with_user_sha=False)
    new = write_templated_run(tmp_path / "new", CAND, orca_template)
    assert both_pairings(old, new) == [12, 12]
    assert load_run(BASELINE).samples["sm1"]  # the baseline itself still loads without user_sha


def test_limit_difference_is_named(tmp_path, capsys):
    base = write_templated_run(tmp_path / "base", BASE, orca_template)
    cand = write_templated_run(tmp_path / "cand", CAND, orca_template)
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
