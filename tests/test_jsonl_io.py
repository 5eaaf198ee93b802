"""The JSONL files we append to go through one reader (orca.io.read_jsonl) and one appender
(orca.io.append_jsonl, which ends a torn tail first); the output cache (harness.cache.OutputCache)
reads and appends through them, under a lock. A corrupt line is an error naming FILE:LINE or,
for the output cache, a counted skip of that line alone; only a torn *final* line may be
dropped; reading never writes. (Their other users: tests/test_collect.py, tests/test_train.py.)"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.cache import OutputCache
from helpers import CORRUPT_LINES
from orca.errors import UserError
from orca.io import append_jsonl, read_jsonl


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
