"""Committed runs (results/published/): complete run directories that `orca-eval report --all` shows."""
import json

from harness.cli import main
from harness.cli_report import PUBLISHED_DIR
from harness.results import load_run


def _published():
    return sorted(p.parent for p in PUBLISHED_DIR.rglob("summary.json"))


def test_published_runs_are_complete_and_marked_partial():
    runs = _published()
    assert runs, "no published runs"
    for d in runs:
        run = load_run(d)  # validates summary.json and every samples file
        assert run.meta["model"]["spec"] == "smollm2-135m-instruct"
        assert run.meta["model"]["gguf"]["sha256"] and run.meta["git_commit"]
        assert run.is_partial() and run.meta["limit"]
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
