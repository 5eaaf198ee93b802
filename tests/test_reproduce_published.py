"""results/published/README.md's reproduce command writes to a new folder and compares it
with the committed run; `run`/`score` refuse an --output inside the committed folders.
Before, the documented command wrote into results/published/...: killed after 60 s it left
the committed run.json rewritten (`finished_at: null`) beside the old summary.json."""
from __future__ import annotations

import re
import shlex

import pytest

from harness.cli import main
from harness.paths import BASELINES_DIR, PUBLISHED_DIR, RESULTS_DIR

README = PUBLISHED_DIR / "README.md"


def _commands() -> list[list[str]]:
    text = README.read_text()
    block = text.split("Reproduce any of them", 1)[1].split("\n\n", 2)[1]  # the indented block
    return [shlex.split(c) for c in block.replace("\\\n", " ").splitlines() if c.strip()]


def test_reproduce_command_writes_to_a_new_folder_and_compares():
    run, compare = _commands()
    assert run[:2] == ["orca-eval", "run"]
    output = run[run.index("--output") + 1]
    assert not output.startswith(str(RESULTS_DIR.relative_to(RESULTS_DIR.parent)))
    assert compare[:2] == ["orca-eval", "compare"]
    published, reproduction = compare[2:4]
    assert (RESULTS_DIR.parent / published / "summary.json").is_file()
    assert reproduction == output


@pytest.mark.parametrize("committed", [PUBLISHED_DIR / "smollm2-135m-instruct" / "agieval-generate-sm1",
                                       BASELINES_DIR / "ci-tiny", PUBLISHED_DIR / "new-folder"])
def test_run_refuses_to_write_into_committed_runs(committed, capsys):
    before = {p: p.read_bytes() for p in committed.rglob("*.json")} if committed.exists() else {}
    rc = main(["run", "--suite", "bbh/navigate", "--limit", "1", "--output", str(committed)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1
    assert "committed runs" in err[0] and "compare" in err[0]
    assert {p: p.read_bytes() for p in before} == before
    assert committed.exists() == bool(before)
