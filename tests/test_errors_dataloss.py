"""Issue 13, class 1 -- data loss: a corrupt line is an error (FILE:LINE) or, for the output
cache, a counted skip of that line alone; only a torn *final* line may be dropped; read-only
commands never write; a resumed training run logs each step once.

Every file we append to goes through one reader (orca.io.read_jsonl) and one
appender (orca.io.append_jsonl, which OutputCache.put_many calls under its lock; it ends
a torn tail first), so the members below exercise that mechanism through each of its users."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from openai_server import FakeOpenAIServer  # noqa: E402

from harness.cache import OutputCache  # noqa: E402
from harness.cli import main as cli_main  # noqa: E402
from orca.errors import UserError  # noqa: E402
from orca.io import append_jsonl, read_jsonl  # noqa: E402
from orca.collect import collect  # noqa: E402

FAST = dict(timeout_s=2.0, backoff_base_s=0.05, backoff_max_s=0.2)

# Complete (newline-terminated) lines that are not JSON objects: each is a member of the class.
CORRUPT_LINES = [
    b'{"k": "a", "v": ',              # cut short, yet followed by a newline
    b"not json at all",
    b'{"id": "x"} trailing',          # an object with garbage after it
    b"[1, 2, 3]",                     # JSON, but not an object
    b'"just a string"',
    b'{"k": "caf\xff\xfe"}',          # not UTF-8
    b'{"k": "a", "v{"k": "b", "v": 2}',  # a torn write with a later append glued on
]


def _jsonl(rows) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def _with_bad_line(rows, at: int, bad: bytes) -> bytes:
    lines = [json.dumps(r).encode() + b"\n" for r in rows]
    lines.insert(at, bad + b"\n")
    return b"".join(lines)


# ----------------------------------------------------------------------------- the reader

@pytest.mark.parametrize("bad", CORRUPT_LINES)
def test_strict_reader_names_file_and_line_and_writes_nothing(tmp_path, bad):
    path = tmp_path / "out.jsonl"
    path.write_bytes(_with_bad_line([{"i": i} for i in range(6)], 2, bad))
    before = path.read_bytes()
    with pytest.raises(UserError, match=rf"{path}:3: "):
        read_jsonl(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("bad", CORRUPT_LINES)
def test_tolerant_reader_skips_only_the_bad_line(tmp_path, bad):
    path = tmp_path / "cache.jsonl"
    path.write_bytes(_with_bad_line([{"i": i} for i in range(29)], 3, bad))
    before = path.read_bytes()
    found = read_jsonl(path, on_bad="skip")
    assert [r["i"] for r in found.rows] == list(range(29))  # every line after the bad one is kept
    assert found.skipped_lines == [4] and not found.torn_tail
    assert path.read_bytes() == before


@pytest.mark.parametrize("tail, kept", [
    (b'{"i": 99, "v": "cut he', False),   # torn mid-value
    (b"{", False),
    (b'{"i": 99, "v": "\xe2\x82', False),  # torn inside a UTF-8 character
    (b'{"i": 99}', True),                 # whole object, only the newline missing
])
def test_only_a_torn_final_line_is_left_out_and_append_repairs_it(tmp_path, tail, kept):
    path = tmp_path / "a.jsonl"
    path.write_bytes(_jsonl([{"i": i} for i in range(4)]) + tail)
    before = path.read_bytes()
    found = read_jsonl(path)
    assert [r["i"] for r in found.rows] == list(range(4)) + ([99] if kept else [])
    assert found.torn_tail is (not kept)
    assert path.read_bytes() == before  # reading repaired nothing
    append_jsonl(path, [{"i": 5}])
    assert [r["i"] for r in read_jsonl(path).rows] == list(range(4)) + ([99] if kept else []) + [5]
    assert path.read_bytes().endswith(b'{"i": 5}\n')


def test_a_corrupt_line_in_the_middle_is_not_a_torn_tail_for_the_appender(tmp_path):
    """The appender only ever touches bytes after the last line break."""
    path = tmp_path / "a.jsonl"
    body = _with_bad_line([{"i": i} for i in range(5)], 2, b"garbage")
    path.write_bytes(body)
    append_jsonl(path, [{"i": 5}])
    assert path.read_bytes() == body + b'{"i": 5}\n'


# ----------------------------------------------------------------------------- the output cache

@pytest.mark.parametrize("bad", CORRUPT_LINES + [b'{"no_key": 1}', b'{"k": 3, "v": "x"}'])
def test_output_cache_skips_and_counts_a_corrupt_line_and_keeps_the_rest(tmp_path, capsys, bad):
    path = tmp_path / "model.jsonl"
    rows = [{"k": f"key{i}", "v": f"out{i}"} for i in range(30)]
    path.write_bytes(_with_bad_line(rows, 4, bad))
    before = path.read_bytes()
    cache = OutputCache(path)
    assert path.read_bytes() == before  # opening a cache rewrites nothing
    assert cache.corrupt_lines == 1
    assert all(cache.get(f"key{i}") == f"out{i}" for i in range(30))  # 30 -> 30, not 30 -> 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "skipped 1 corrupt line" in err and str(path) in err
    cache.put_many({"new": "value"})
    assert path.read_bytes() == before + b'{"k": "new", "v": "value"}\n'
    assert OutputCache(path).get("new") == "value"


def test_output_cache_with_a_torn_tail_is_not_corrupt(tmp_path, capsys):
    path = tmp_path / "model.jsonl"
    path.write_bytes(_jsonl([{"k": "a", "v": 1}]) + b'{"k": "b", "v"')
    cache = OutputCache(path)
    assert cache.corrupt_lines == 0 and "a" in cache and "b" not in cache
    assert capsys.readouterr().err == ""
    cache.put_many({"b": 2})
    assert path.read_bytes() == _jsonl([{"k": "a", "v": 1}, {"k": "b", "v": 2}])


# ----------------------------------------------------------------------------- teacher collection

def _queries(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"q{i}", "query": f"what is {i}?", "system_message_id": 1}) + "\n"
                            for i in range(n)))
    return path


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
        rc = cli_main(["data", "collect", "--queries", str(queries), "--model", "gpt-4", "--base-url",
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
    rc = cli_main(["data", "lengths", str(out), "--json"])
    captured = capsys.readouterr()
    assert out.read_bytes() == before
    if damage == "torn":
        assert rc == 0 and json.loads(captured.out)["gpt-4"]["answers"] == 6
    else:
        line = 2 if damage == "middle" else 3
        assert rc == 2 and f"{out}:{line}:" in captured.err and captured.err.count("\n") == 1


# ----------------------------------------------------------------------------- training metrics

@pytest.fixture(scope="module")
def tiny_init(tmp_path_factory):
    from orca.tiny import make_tiny_llama
    return str(make_tiny_llama(tmp_path_factory.mktemp("init") / "tiny", seed=0))


@pytest.mark.parametrize("crash_after_step", [3, 5])
def test_resumed_training_logs_each_step_once(tmp_path, tiny_init, monkeypatch, crash_after_step):
    """A crash after a step was logged but before the next checkpoint: the resumed run redoes
    the step and must not log it a second time."""
    import orca.train as train_mod
    from orca.train_config import parse_train_config

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"id": f"r{i}", "status": "ok", "model": "m", "system": "",
                                        "query": f"Q{i}: count from {i}",
                                        "response": " ".join(str(i + j) for j in range(12))}) + "\n"
                            for i in range(14)))
    raw = {"output_dir": "out", "seed": 0, "log_every": 1, "device": "cpu",
           "stages": [{"name": "s1", "data": "data.jsonl", "init": tiny_init, "epochs": 1, "lr": 1e-3,
                       "batch_size": 2, "max_len": 64, "save_every_steps": 2, "warmup_steps": 1}]}
    config = parse_train_config(raw, tmp_path / "train.json")
    real_append = train_mod.append_jsonl

    def crashing_append(path, rows):
        real_append(path, rows)
        if rows[0]["step"] == crash_after_step:
            raise RuntimeError("simulated kill")

    monkeypatch.setattr(train_mod, "append_jsonl", crashing_append)
    with pytest.raises(RuntimeError, match="simulated kill"):
        train_mod.train(config)
    metrics = tmp_path / "out" / "s1" / "metrics.jsonl"
    assert [r["step"] for r in read_jsonl(metrics).rows] == list(range(1, crash_after_step + 1))
    monkeypatch.setattr(train_mod, "append_jsonl", real_append)
    train_mod.train(config)
    steps = [r["step"] for r in read_jsonl(metrics).rows]
    total = sum(json.loads((tmp_path / "out" / "s1" / "data_stats.json").read_text())["steps_per_epoch"])
    assert total > crash_after_step + 1
    assert steps == list(range(1, total + 1))  # each step logged once


def test_a_cache_shared_by_two_processes_is_locked_and_waited_for(tmp_path):
    """Appends and reads of an output cache hold an exclusive lock on PATH.lock: a second
    process waits for it (never fails, never writes alongside), and goes on once it is free."""
    import subprocess

    path = tmp_path / "model.jsonl"
    cache = OutputCache(path)
    child = ("import sys\nfrom harness.cache import OutputCache\nprint('start', flush=True)\n"
             f"c = OutputCache({str(path)!r})\nc.put_many({{'k2': 'two'}})\nprint('done', flush=True)\n")
    root = Path(__file__).resolve().parent.parent
    with cache._locked():
        proc = subprocess.Popen([sys.executable, "-c", child], cwd=root, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline() == "start\n"
            with pytest.raises(subprocess.TimeoutExpired):
                proc.wait(timeout=1.0)  # blocked on the lock
            assert not path.exists()
        except BaseException:
            proc.kill()
            raise
    assert proc.stdout.read() == "done\n" and proc.wait(timeout=60) == 0
    assert read_jsonl(path).rows == [{"k": "k2", "v": "two"}]
    assert path.with_suffix(".lock").is_file()  # left in place: waiters share its inode
