"""Bytes that are not UTF-8, in any input orca-eval reads -- predictions, queries, a training or
pipeline config, FLAN files, run.json, summary.json, samples, a system-message file, a
collection output, benchmark data, the output cache -- end in one `orca-eval: error:` line
naming the file and the line, with exit 2, not in a traceback."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import BASELINE, NO_API, copy_run, one_line_error, samples_file, write
from orca.errors import user_message_for

ROOT = Path(__file__).resolve().parent.parent


def _bad_predictions(tmp):
    f = write(tmp / "pred.jsonl", b'{"task":"bbh/navigate","doc_id":0,"prediction":"Yes"}\n'
                                  b'{"task":"bbh/navigate","doc_id":1,"prediction":"\xff"}\n')
    return ["score", "--suite", "bbh/navigate", "--predictions", f, "--output", tmp / "out"], f, 2


def _bad_queries(tmp):
    f = write(tmp / "q.jsonl", b'{"id":"1","query":"caf\xe9"}\n')  # Latin-1, not UTF-8
    return ["data", "collect", "--queries", f, "--model", "m", "--base-url", NO_API, "--out", tmp / "c.jsonl"], f, 1


def _bad_train_config(tmp):
    f = write(tmp / "train.yaml", b"seed: 0\noutput_dir: out\n# r\xe9sum\xe9\n")
    return ["train", "--config", f], f, 3


def _bad_pipeline_config(tmp):
    f = write(tmp / "pipe.json", b'{"run_dir": "x",\n "train": "\x80"}')
    return ["pipeline", "--config", f], f, 2


def _bad_flan(tmp):
    f = write(tmp / "flan" / "part.jsonl", b'{"inputs": "\xc3\x28"}\n')
    return ["data", "sample", "--flan", f, "--out-dir", tmp / "sampled"], f, 1


def _bad_run_json(tmp):
    run = copy_run(tmp)
    f = run / "run.json"
    f.write_bytes(f.read_bytes().replace(b'"stage2"', b'"st\xffage2"'))
    return ["report", run], f, 2


def _bad_summary_json(tmp):
    run = copy_run(tmp)
    f = run / "summary.json"
    f.write_bytes(b"\xfe\xff" + f.read_bytes())
    return ["compare", run, BASELINE], f, 1


def _bad_samples(tmp):
    run = copy_run(tmp)
    f = samples_file(run)
    n = f.read_bytes().count(b"\n")
    f.write_bytes(f.read_bytes() + b'{"doc_id": 999, "output": "\xff"}\n')
    return ["report", "--flips", run, BASELINE], f, n + 1


def _bad_system_message_file(tmp):
    f = write(tmp / "sm.txt", b"You are a helpful assistant.\nBe \x92brief\x92.\n")  # cp1252 quotes
    return ["run", "--suite", "bbh/navigate", "--limit", "1", "--system-message", f"@{f}",
            "--output", tmp / "out"], f, 2


def _bad_collect_output(tmp):
    q = write(tmp / "q.jsonl", '{"id":"1","query":"hi","system_message_id":1}\n')
    f = write(tmp / "c.jsonl", b'{"id": "1", "model": "m", "status": "ok", "response": "\xff"}\n')
    return ["data", "collect", "--queries", q, "--model", "m", "--base-url", NO_API, "--out", f], f, 1


def _bad_lengths_input(tmp):
    f = write(tmp / "answers.jsonl", b'{"id": "1", "model": "m", "status": "ok", "response": "ok"}\n\xff\n')
    return ["data", "lengths", f], f, 2


def _bad_data_file(tmp):
    src = json.loads((ROOT.parent / "shared" / "data" / "bbh" / "navigate.json").read_text())
    f = write(tmp / "data" / "bbh" / "navigate.json",
              json.dumps(src, indent=1).encode().replace(b'"target"', b'"t\xe4rget"', 1))
    return ["run", "--suite", "bbh/navigate", "--limit", "1", "--data-dir", tmp / "data", "--output", tmp / "out"], f, None


@pytest.mark.parametrize("make", [
    _bad_predictions, _bad_queries, _bad_train_config, _bad_pipeline_config, _bad_flan, _bad_run_json,
    _bad_summary_json, _bad_samples, _bad_system_message_file, _bad_collect_output, _bad_lengths_input,
    _bad_data_file,
], ids=lambda f: f.__name__[5:])
def test_non_utf8_input_is_one_line_naming_file_and_line(tmp_path, capsys, make):
    argv, bad_file, line = make(tmp_path)
    err = one_line_error(capsys, argv)
    where = f"{bad_file}:{line}:" if line else f"{bad_file}:"
    assert where in err and "not UTF-8" in err, err


def test_non_utf8_output_cache_names_the_file(tmp_path):
    """The cache is read by harness.cache (a counted skip may come there); whatever raises
    from it is translated, not a traceback."""
    from harness.cache import OutputCache

    f = write(tmp_path / "cache.jsonl", b'{"k": "a", "v": "ok"}\n{"k": "b", "v": "\xff"}\n')
    try:
        OutputCache(f)
    except UnicodeDecodeError as e:
        assert user_message_for(e).startswith(f"{f}:2: not UTF-8")
