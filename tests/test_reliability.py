"""Issue 22 (reliability, round 3): each test reproduces one probe that used to break."""
import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from openai_server import FakeOpenAIServer  # noqa: E402

from harness.cli import main  # noqa: E402


def test_run_timeout_bounds_a_hung_request(tmp_path, monkeypatch, capsys):
    """A hung request took the default 120 s with --max-retries 0; `run --timeout` bounds it."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer(fault_fn=lambda m, model, a: "slow", slow_s=120) as srv:
        start = time.monotonic()
        rc = main(["run", "--suite", "bbh/navigate", "--limit", "1", "--model", "openai:gpt-4",
                   "--base-url", srv.base_url, "--max-retries", "0", "--timeout", "0.5", "--no-progress",
                   "--output", str(tmp_path / "api")])
        elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert rc == 2 and "API requests failed" in err and "last: timeout" in err and "Traceback" not in err
    assert elapsed < 60  # the server would answer after 120 s (imports and data loading take the rest)
