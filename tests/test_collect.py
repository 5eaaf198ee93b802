"""`orca-eval data collect` and `data lengths` on a collection output, against the fake OpenAI
server (tests/openai_server.py): a corrupt output line is refused with FILE:LINE and nothing is
paid for twice; `--retry-failed` keeps the answers before a torn tail; `data lengths` never
writes; every numeric flag is checked even when nothing is left to ask; the exit code is
non-zero while failed queries remain. (Rate limits, faults, resume: tests/test_teacher.py.)"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from helpers import CORRUPT_LINES, error_line
from openai_server import FakeOpenAIServer
from orca.collect import collect

FAST = dict(timeout_s=2.0, backoff_base_s=0.05, backoff_max_s=0.2)


def _queries(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"q{i}", "query": f"what is {i}?", "system_message_id": 1}) + "\n"
                            for i in range(n)))
    return path


# ----------------------------------------------------------------------------- a damaged output file

@pytest.mark.parametrize("bad", [CORRUPT_LINES[0], CORRUPT_LINES[3], CORRUPT_LINES[5],
                                 b'{"id": "q3", "model": "gpt-4"}'])  # an object, but not an output row
def test_collect_refuses_a_corrupt_output_line_and_keeps_every_paid_answer(tmp_path, capsys, bad):
    queries = _queries(tmp_path / "q.jsonl", 8)
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer() as srv:
        collect(queries, out, "gpt-4", base_url=srv.base_url, **FAST)
        lines = out.read_bytes().splitlines(keepends=True)
        out.write_bytes(b"".join(lines[:3] + [bad + b"\n"] + lines[4:]))  # line 4 is corrupt
        before = out.read_bytes()
        srv.reset_stats()
        rc = main(["data", "collect", "--queries", str(queries), "--model", "gpt-4", "--base-url",
                       srv.base_url, "--out", str(out), "--no-progress"])
        asked = srv.stats()["requests"]
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("orca-eval: error: ")
    assert f"{out}:4:" in err and "Traceback" not in err
    assert out.read_bytes() == before  # nothing deleted ...
    assert asked == 0                  # ... and nothing paid for twice


def test_collect_retry_failed_keeps_ok_answers_after_a_torn_tail(tmp_path):
    queries = _queries(tmp_path / "q.jsonl", 6)
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer(fault_fn=lambda m, model, a: "503" if "3?" in m[-1]["content"] else None) as srv:
        collect(queries, out, "gpt-4", base_url=srv.base_url, max_retries=1, **FAST)
    with open(out, "ab") as f:
        f.write(b'{"id": "q9", "sta')  # torn
    with FakeOpenAIServer() as srv:
        s = collect(queries, out, "gpt-4", base_url=srv.base_url, retry_failed=True, **FAST)
        assert srv.stats()["requests"] == 1  # only the failed one
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == [f"q{i}" for i in range(6)] and s.ok == 6


@pytest.mark.parametrize("damage", ["middle", "torn", "not-an-output-row"])
def test_data_lengths_is_read_only(tmp_path, capsys, damage):
    queries = _queries(tmp_path / "q.jsonl", 6)
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer() as srv:
        collect(queries, out, "gpt-4", base_url=srv.base_url, **FAST)
    lines = out.read_bytes().splitlines(keepends=True)
    if damage == "middle":
        out.write_bytes(b"".join(lines[:1] + [b"{oops\n"] + lines[1:]))
    elif damage == "torn":
        out.write_bytes(b"".join(lines) + b'{"id": "q7", "st')
    else:
        out.write_bytes(b"".join(lines[:2] + [b'{"id": "z"}\n'] + lines[2:]))
    before = out.read_bytes()
    rc = main(["data", "lengths", str(out), "--json"])
    captured = capsys.readouterr()
    assert out.read_bytes() == before
    if damage == "torn":
        assert rc == 0 and json.loads(captured.out)["gpt-4"]["answers"] == 6
    else:
        line = 2 if damage == "middle" else 3
        assert rc == 2 and f"{out}:{line}:" in captured.err and captured.err.count("\n") == 1


# ----------------------------------------------------------------------------- flags and exit codes

@pytest.mark.parametrize("flags, message", [
    (["--timeout", "-1"], "--timeout must be > 0"),
    (["--timeout", "0"], "--timeout must be > 0"),
    (["--timeout", "nan"], "--timeout must be a finite number"),
    (["--tpm", "-5"], "--tpm must be > 0"),
    (["--rpm", "inf"], "--rpm must be a finite number"),
    (["--temperature", "nan"], "--temperature must be a finite number"),
    (["--temperature", "3"], "--temperature must be >= 0 and <= 2"),
    (["--top-p", "1.5"], "--top-p must be > 0 and <= 1"),
    (["--concurrency", "0"], "--concurrency must be >= 1"),
    (["--max-tokens", "0"], "--max-tokens must be >= 1"),
    (["--max-retries", "-2"], "--max-retries must be >= 0"),
    (["--backoff-base", "nan"], "--backoff-base must be a finite number"),
])
def test_collect_refuses_nonsense_even_when_everything_is_answered(tmp_path, capsys, flags, message):
    queries = _queries(tmp_path / "q.jsonl", 3)
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer() as srv:
        base = ["data", "collect", "--queries", str(queries), "--model", "gpt-4", "--base-url", srv.base_url,
                "--out", str(out), "--no-progress"]
        assert main(base) == 0  # warm: a re-run has nothing to ask
        capsys.readouterr()
        before = out.read_bytes()
        srv.reset_stats()
        assert main(base + flags) == 2
        assert message in error_line(capsys)
        assert srv.stats()["requests"] == 0
    assert out.read_bytes() == before


def test_collect_exits_non_zero_while_failed_queries_remain(tmp_path, capsys):
    queries = _queries(tmp_path / "q.jsonl", 4)
    out = tmp_path / "out.jsonl"
    with FakeOpenAIServer(fault_fn=lambda m, model, attempt: "503") as srv:
        base = ["data", "collect", "--queries", str(queries), "--model", "gpt-4", "--base-url", srv.base_url,
                "--out", str(out), "--no-progress", "--max-retries", "0", "--backoff-base", "0.01"]
        assert main(base) == 1  # every query failed
        err = capsys.readouterr().err
        assert "4 of 4 queries failed" in err and "--retry-failed" in err
        srv.reset_stats()
        assert main(base) == 1  # a re-run that asks nothing: the failures are still there
        assert srv.stats()["requests"] == 0 and "--retry-failed" in capsys.readouterr().err
    with FakeOpenAIServer() as srv:
        base[base.index("--base-url") + 1] = srv.base_url
        assert main(base + ["--retry-failed"]) == 0
        assert "failed;" not in capsys.readouterr().err
        assert main(base) == 0


def test_collect_partly_failed_is_non_zero(tmp_path, capsys):
    queries = _queries(tmp_path / "q.jsonl", 5)
    with FakeOpenAIServer(fault_fn=lambda m, model, attempt: "500" if "2?" in m[-1]["content"] else None) as srv:
        rc = main(["data", "collect", "--queries", str(queries), "--model", "gpt-4", "--base-url", srv.base_url,
                   "--out", str(tmp_path / "o.jsonl"), "--no-progress", "--max-retries", "1",
                   "--backoff-base", "0.01"])
    assert rc == 1 and "1 of 5 queries failed" in capsys.readouterr().err
