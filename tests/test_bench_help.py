"""Every benchmark script answers --help with its usage and starts no benchmark
(`bench/extract_speed.py --help` ran the whole benchmark)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "bench").glob("*.py")))
def test_bench_help_prints_usage_and_runs_nothing(script):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--help"], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage:")
    last = out.stdout.strip().splitlines()[-1]
    try:
        json.loads(last)
    except ValueError:
        pass
    else:
        raise AssertionError(f"{script} --help printed a benchmark result: {last}")
