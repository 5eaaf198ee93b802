"""Issue 13, class 2: inputs that used to end in a traceback end in one `orca-eval: error:`
line naming the file (and line, and field), with exit 2 -- while a real bug still shows
its traceback.

Members tried: non-UTF-8 bytes in every kind of input, JSON of the wrong shape, paths of
the wrong kind, bad backend flags, a write that fails (file too large; stdout on a full
device, a closed pipe, a closed descriptor)."""
from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from helpers import one_line_error
from orca.errors import user_message_for

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "results" / "baselines" / "ci-tiny"
NO_API = "http://127.0.0.1:9/v1"  # nothing listens there; these commands fail before asking


def copy_run(tmp_path: Path, name: str = "run") -> Path:
    return Path(shutil.copytree(BASELINE, tmp_path / name))


def samples_file(run: Path) -> Path:
    return sorted((run / "samples").rglob("*.jsonl"))[0]


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


# ----------------------------------------------------------------- non-UTF-8 bytes in any input

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


# ----------------------------------------------------------------- JSON of the wrong shape

def _edit_json(path: Path, **fields) -> None:
    obj = json.loads(path.read_text())
    obj.update(fields)
    path.write_text(json.dumps(obj))


@pytest.mark.parametrize("mutate, command, expected", [
    (lambda r: (r / "run.json").write_text("[1, 2]"), "report",
     "run.json: expected a JSON object at the top level, got a list"),
    (lambda r: (r / "summary.json").write_text('"done"'), "report",
     "summary.json: expected a JSON object at the top level, got a string"),
    (lambda r: _edit_json(r / "summary.json", variants=["sm1"]), "report",
     "summary.json: field 'variants' must be an object, got a list"),
    (lambda r: _edit_json(r / "summary.json", variants={"sm1": {"tasks": {"bbh/navigate": "50 %"}}}), "report",
     "summary.json: variants.sm1.tasks.bbh/navigate must be an object, got a string"),
    (lambda r: _edit_json(r / "summary.json", variants={"sm1": {"tasks": {"bbh/navigate": {"accuracy": "50",
                                                                                           "n": 4}}}}),
     "report", "summary.json: variants.sm1.tasks.bbh/navigate: field 'accuracy' must be a number, got a string"),
    (lambda r: _edit_json(r / "run.json", model="hf:x"), "compare",
     "run.json: field 'model' must be an object, got a string"),
    (lambda r: _edit_json(r / "run.json", decoding=[0.0]), "compare",
     "run.json: field 'decoding' must be an object or null, got a list"),
    (lambda r: _edit_json(r / "run.json", variants=["sm1"]), "compare",
     "run.json: field 'variants' must be an object, got a list"),
    (lambda r: samples_file(r).write_text(samples_file(r).read_text().replace('"doc_id": 0,', '"doc_id": "0",', 1)),
     "flips", ":1: field 'doc_id' must be an integer, got a string"),
    (lambda r: samples_file(r).write_text(samples_file(r).read_text().replace('"doc_id": 0,', '"doc_id": null,', 1)),
     "compare", ":1: field 'doc_id' must be an integer, got null"),
    (lambda r: samples_file(r).write_text('["doc_id", 0]\n'), "compare", ":1: expected a JSON object"),
], ids=["run-list", "summary-string", "variants-list", "task-string", "accuracy-string", "model-string",
        "decoding-list", "run-variants-list", "doc_id-string", "doc_id-null", "sample-list"])
def test_wrong_json_shape_in_a_run_is_one_line(tmp_path, capsys, mutate, command, expected):
    run = copy_run(tmp_path)
    mutate(run)
    argv = {"report": ["report", run], "compare": ["compare", run, BASELINE],
            "flips": ["report", "--flips", run, BASELINE]}[command]
    assert expected in one_line_error(capsys, argv)


@pytest.mark.parametrize("yaml_text, expected", [
    ("run_dir: null\n", "field 'run_dir' must be a path (a string), got None"),
    ("run_dir: 5\n", "field 'run_dir' must be a path (a string), got 5"),
    ("run_dir: r\ndata: {s1: 7}\n", "data.s1 must be a path (a string), got 7"),
])
def test_pipeline_paths_of_the_wrong_json_type(tmp_path, capsys, yaml_text, expected):
    f = write(tmp_path / "p.yaml", yaml_text + "train: {stages: [{name: s1, init: 'tiny:0'}]}\n"
              + ("" if "data:" in yaml_text else "data: {s1: d.jsonl}\n"))
    assert expected in one_line_error(capsys, ["pipeline", "--config", f])


# ----------------------------------------------------------------- paths of the wrong kind

def test_file_where_a_directory_is_expected(tmp_path, capsys):
    from helpers import make_rows, write_jsonl

    a_file = write(tmp_path / "a-file", "x")
    pred = write(tmp_path / "p.jsonl", '{"task": "bbh/navigate", "doc_id": 0, "prediction": "Yes"}\n')
    err = one_line_error(capsys, ["score", "--suite", "bbh/navigate", "--predictions", pred, "--output", a_file])
    assert f"{a_file}: is a file, not a directory" in err
    flan = write_jsonl(tmp_path / "flan.jsonl", make_rows())
    err = one_line_error(capsys, ["data", "sample", "--flan", flan, "--out-dir", a_file, "--scale", "0.001"])
    assert f"{a_file}: is a file, not a directory" in err
    pipe = write(tmp_path / "p.yaml", f"run_dir: {a_file}\ntrain: {{stages: [{{name: s1, init: 'tiny:0'}}]}}\n"
                                      f"data: {{s1: {ROOT / 'configs/data/tiny_chatgpt.jsonl'}}}\n")
    assert f"{a_file}: is a file, not a directory" in one_line_error(capsys, ["pipeline", "--config", pipe])
    err = one_line_error(capsys, ["report", BASELINE, "--format", "markdown", "--out", a_file / "r.md"])
    assert f"{a_file} is a file, not a directory" in err
    assert a_file.read_text() == "x"


def test_directory_where_a_file_is_expected(tmp_path, capsys):
    a_dir = tmp_path / "a-dir"
    a_dir.mkdir()
    err = one_line_error(capsys, ["compare", BASELINE, BASELINE, "--out", a_dir])
    assert f"--out {a_dir}: is a directory" in err
    q = write(tmp_path / "q.jsonl", '{"id":"1","query":"hi","system_message_id":1}\n')
    err = one_line_error(capsys, ["data", "collect", "--queries", q, "--model", "m", "--base-url", NO_API,
                                  "--out", a_dir])
    assert f"{a_dir}: is a directory, not a file" in err
    assert list(a_dir.iterdir()) == []


# ----------------------------------------------------------------- backend flags

@pytest.mark.parametrize("flags, expected", [
    (["--dtype", "foo"], "--dtype 'foo': choose from auto, bfloat16, float16, float32"),
    (["--max-length", "-5"], "--max-length must be >= 1, got -5"),
    (["--max-length", "0"], "--max-length must be >= 1, got 0"),
    (["--max-length", "16", "--max-new-tokens", "32"], "--max-length 16 leaves no room for the prompt"),
    (["--device", "cuda:x"], "--device must be cpu, cuda, cuda:N or mps, got 'cuda:x'"),
])
def test_backend_flags_are_checked_before_loading(tmp_path, capsys, flags, expected):
    err = one_line_error(capsys, ["run", "--suite", "bbh/navigate", "--limit", "1", *flags,
                                  "--output", tmp_path / "out"])
    assert expected in err
    assert not (tmp_path / "out").exists()


def test_cuda_without_a_gpu(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        flags, expected = ["--device", f"cuda:{torch.cuda.device_count()}"], "CUDA device(s)"
    else:
        flags, expected = ["--device", "cuda"], "--device cuda: no CUDA GPU is available here"
    assert expected in one_line_error(capsys, ["run", "--suite", "bbh/navigate", *flags, "--output", tmp_path / "o"])


def test_argparse_mistakes_are_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "--limit", "many"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("orca-eval: error: run: argument --limit")


# ----------------------------------------------------------------- failing writes

def _cli(args, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "harness.cli", *map(str, args)], env=env, text=True,
                          capture_output=kw.pop("capture_output", True), timeout=120, **kw)


def _limit_file_size():
    # A real failing write without root: past RLIMIT_FSIZE, write() fails with EFBIG
    # (SIGXFSZ ignored), the same path a full disk's ENOSPC takes.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (300, 300))


def test_a_write_that_fails_is_one_line_and_leaves_nothing(tmp_path):
    out = tmp_path / "comparison.json"
    p = _cli(["compare", BASELINE, BASELINE, "--format", "json", "--out", out], preexec_fn=_limit_file_size)
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and f"orca-eval: error: {out}: cannot write: File too large" in p.stderr
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_stdout_on_a_full_device(tmp_path):
    with open("/dev/full", "w") as full:
        p = _cli(["tasks"], stdout=full, capture_output=False, stderr=subprocess.PIPE)
    assert p.returncode == 2
    assert p.stderr == "orca-eval: error: cannot write to standard output: No space left on device\n"


def test_stdout_closed_pipe_and_closed_descriptor():
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "system-messages"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    proc.stdout.close()  # the reader goes away before anything is written
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 2
    assert err.count("\n") == 1 and err.startswith("orca-eval: error: cannot write to standard output")
    p = subprocess.run(f"{sys.executable} -m harness.cli tasks >&-", shell=True, text=True, capture_output=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert p.returncode == 2 and "cannot write to standard output: it is closed" in p.stderr and p.stderr.count("\n") == 1


# ----------------------------------------------------------------- bugs keep their traceback

@pytest.mark.parametrize("exc", [TypeError("a bug"), KeyError("field"), OSError(111, "Connection refused")])
def test_a_real_bug_still_raises(monkeypatch, exc):
    import harness.cli.run as cli_run

    def broken(args):
        raise exc

    monkeypatch.setattr(cli_run, "cmd_tasks", broken)
    with pytest.raises(type(exc)):
        main(["tasks"])
