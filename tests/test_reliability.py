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


def _files_containing(roots, needles) -> list[str]:
    hits = []
    for root in roots:
        for p in Path(root).rglob("*"):
            if p.is_file() and not p.is_symlink():
                data = p.read_bytes()
                hits += [f"{p}: {n}" for n in needles if n.encode() in data]
    return hits


def test_keys_in_base_urls_are_never_written_or_printed(tmp_path, monkeypatch, capsys):
    """Item 7: a key in the user part or a query parameter of --base-url / OPENAI_BASE_URL /
    collect.base_url was written verbatim to run.json (model.base_url and command)."""
    import os

    cache = Path(os.environ["ORCA_CACHE_DIR"])
    secrets = ["sk-USERINFO-0001", "sk-QUERYKEY-0002", "sk-ENVURL-0003", "sk-COLLECT-0004", "sk-BADKEY-0005"]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setattr(sys, "argv", ["orca-eval"])  # so `command` is recorded, as from the console script
    common = ["run", "--suite", "bbh/navigate", "--limit", "2", "--model", "openai:gpt-4", "--no-progress"]
    printed = ""
    with FakeOpenAIServer() as srv:
        host = f"127.0.0.1:{srv.port}"
        for i, url in enumerate([f"http://user:{secrets[0]}@{host}/v1", f"http://{host}/v1?api_key={secrets[1]}"]):
            argv = common + ["--base-url", url, "--output", str(tmp_path / f"run{i}")]
            monkeypatch.setattr(sys, "argv", ["orca-eval", *argv])
            # the openai client appends its paths after a query string, so the server answers 404
            # to the second form: the run stops, with run.json already written
            assert main(argv) == (0 if i == 0 else 2)
            meta = json.loads((tmp_path / f"run{i}" / "run.json").read_text())
            assert meta["command"] and "--base-url" in meta["command"]
            assert meta["model"]["base_url"].startswith("http://") and "***" in meta["model"]["base_url"]
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://me:{secrets[2]}@{host}/v1")
        monkeypatch.setattr(sys, "argv", ["orca-eval", *common, "--output", str(tmp_path / "run-env")])
        assert main(common + ["--output", str(tmp_path / "run-env")]) == 0
        monkeypatch.delenv("OPENAI_BASE_URL")
        printed += "".join(capsys.readouterr())
        # data collect: the query form stops with a message naming the (redacted) URL
        queries = tmp_path / "q.jsonl"
        queries.write_text(json.dumps({"id": 1, "query": "2+2?", "system_message_id": 1}) + "\n")
        assert main(["data", "collect", "--queries", str(queries), "--model", "gpt-4", "--out",
                     str(tmp_path / "t.jsonl"), "--base-url", f"http://{host}/v1?key={secrets[3]}"]) == 2
    with FakeOpenAIServer(api_key="sk-other") as srv:  # refuses our key: the error names the URL
        rc = main(["data", "collect", "--queries", str(queries), "--model", "gpt-4", "--out",
                   str(tmp_path / "t2.jsonl"), "--base-url", f"http://u:{secrets[4]}@127.0.0.1:{srv.port}/v1"])
        assert rc == 2
        argv = common + ["--base-url", f"http://u:{secrets[4]}@127.0.0.1:{srv.port}/v1",
                         "--output", str(tmp_path / "run-refused")]
        assert main(argv) == 2
    printed += "".join(capsys.readouterr())
    assert "127.0.0.1" in printed  # the messages do name the server
    assert [s for s in secrets if s in printed] == []
    assert _files_containing([tmp_path, cache], secrets) == []


def test_redact_url_forms():
    from orca.redact import redact_text, redact_url

    assert redact_url("https://api.openai.com/v1") == "https://api.openai.com/v1"
    assert redact_url("http://u:sk-1@h:8/v1") == "http://***@h:8/v1"
    assert redact_url("http://h/v1?api_key=sk-1&x=2") == "http://h/v1?api_key=***&x=***"
    assert "sk-1" not in redact_url("http://[::1:8/v1?k=sk-1")  # unparseable: still cut
    assert redact_text("run --base-url=http://a:sk-1@h/v1 x") == "run --base-url=http://***@h/v1 x"


@pytest.mark.parametrize("bad", [None, 7, [1, 2], {"text": "x"}])
def test_cache_rows_of_the_wrong_type_are_counted_skips_and_recomputed(tmp_path, monkeypatch, capsys, bad):
    """Item 3: `"v": null` was scored as a real (wrong) answer with exit 0; a number, list or
    object gave a traceback."""
    import os

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    # a cache of its own: the cache file is named by the server's URL, and an earlier test's
    # server may have had the same port (the OS reuses them), leaving that file behind
    monkeypatch.setenv("ORCA_CACHE_DIR", str(tmp_path / "cache"))
    argv = ["run", "--suite", "bbh/navigate", "--limit", "3", "--model", "openai:gpt-4", "--no-progress",
            "--output", str(tmp_path / "run")]
    outputs = Path(os.environ["ORCA_CACHE_DIR"], "outputs")
    before = set(outputs.glob("*.jsonl"))
    with FakeOpenAIServer(responder=lambda m, model: "The answer is (A)") as srv:
        assert main(argv + ["--base-url", srv.base_url]) == 0
        first = [json.loads(x) for x in (tmp_path / "run/samples/sm1/bbh__navigate.jsonl").read_text().splitlines()]
        [cache] = set(outputs.glob("*.jsonl")) - before  # a new server (port): a new cache file
        rows = [json.loads(x) for x in cache.read_text().splitlines()]
        rows[1]["v"] = bad
        cache.write_text("".join(json.dumps(r) + "\n" for r in rows))
        capsys.readouterr()
        srv.reset_stats()
        assert main(argv + ["--base-url", srv.base_url]) == 0
        err = capsys.readouterr().err
        if isinstance(bad, int):  # a plain value, of the other mode's kind
            assert "1 cached output(s) of the wrong type for --mode generate" in err
        else:
            assert "skipped 1 corrupt line(s) (first at line 2)" in err
        assert "Traceback" not in err
        assert srv.stats()["ok"] == 1  # that one output was asked again
    again = [json.loads(x) for x in (tmp_path / "run/samples/sm1/bbh__navigate.jsonl").read_text().splitlines()]
    assert [r["output"] for r in again] == [r["output"] for r in first] == ["The answer is (A)"] * 3


def test_a_killed_rerun_does_not_leave_its_old_summary_shown_as_current(tmp_path, monkeypatch, capsys):
    """Item 3: after a crash run.json said unfinished, but the old summary.json stayed and
    `report` showed it without a note."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    state = {"fail": False}
    runs = tmp_path / "runs"
    argv = ["run", "--suite", "bbh/navigate", "--limit", "2", "--model", "openai:gpt-4", "--no-progress",
            "--max-retries", "0", "--output", str(runs / "a")]
    with FakeOpenAIServer(fault_fn=lambda m, model, a: "400" if state["fail"] else None) as srv:
        assert main(argv + ["--base-url", srv.base_url]) == 0
        assert (runs / "a" / "summary.json").exists()
        state["fail"] = True
        assert main(argv + ["--base-url", srv.base_url, "--no-cache"]) == 2  # recomputes, and fails
    assert json.loads((runs / "a" / "run.json").read_text())["finished_at"] is None
    assert not (runs / "a" / "summary.json").exists()
    capsys.readouterr()

    # A run directory left in that state by an older version: summary.json beside an unfinished run.json
    (runs / "b").mkdir()
    meta = json.loads((runs / "a" / "run.json").read_text())
    (runs / "b" / "run.json").write_text(json.dumps(meta))
    (runs / "b" / "summary.json").write_text(json.dumps({"variants": {}}))
    assert main(["report", str(runs / "b")]) == 2
    err = capsys.readouterr().err
    assert "unfinished" in err and "Traceback" not in err
    assert main(["report", "--all", "--runs-dir", str(runs), "--format", "markdown"]) == 0
    out, err = capsys.readouterr()
    assert f"{runs / 'b'}: unfinished" in err


def test_two_collectors_on_one_output_file(tmp_path, monkeypatch):
    """Item 2: two `data collect` runs on one --out both exited 0 with "20 ok", leaving 40 lines
    for 20 ids. Now the second one stops with one line (exit 2) while the first is writing."""
    import os
    import subprocess
    import threading

    queries = tmp_path / "q.jsonl"
    queries.write_text("".join(json.dumps({"id": i, "query": f"q {i}?", "system_message_id": 1}) + "\n"
                               for i in range(20)))
    out = tmp_path / "t.jsonl"
    started, release = threading.Event(), threading.Event()

    def responder(messages, model):
        started.set()
        release.wait(120)  # the first collector stays busy until the second one has been tried
        return "answer"

    env = {**os.environ, "OPENAI_API_KEY": "sk-test"}
    with FakeOpenAIServer(responder=responder) as srv:
        cmd = [sys.executable, "-m", "harness.cli", "data", "collect", "--queries", str(queries), "--model",
               "gpt-4", "--out", str(out), "--base-url", srv.base_url, "--concurrency", "1"]
        first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert started.wait(60)
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        release.set()
        assert second.returncode == 2, second.stderr
        assert second.stderr.count("\n") == 1 and "another data collect is writing to it" in second.stderr
        assert f"pid {first.pid}" in second.stderr
        assert first.wait(120) == 0, first.stderr.read()
    ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(20)]  # each id once


def test_training_counts_each_id_once(tmp_path, capsys):
    """Item 2: training counted 40 examples for 20 ids when two collectors had appended to one file."""
    from orca.tokenize import load_examples

    row = {"status": "ok", "model": "gpt-4", "system_message_id": 1, "query": "q", "response": "r"}
    lines = [{**row, "id": i % 20} for i in range(40)] + [{**row, "id": 99, "status": "failed", "response": None}]
    f = tmp_path / "t.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in lines))
    examples, stats = load_examples(f)
    assert len(examples) == 20 and stats["duplicates_dropped"] == 20 and stats["failed_skipped"] == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dropped 20 line(s)" in err and "id '0' at line 21" in err


def _preds(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_score_does_not_overwrite_another_files_results_nor_leave_stale_ones(tmp_path, monkeypatch, capsys):
    """Item 4: two predictions files with one file name overwrote each other's results, and a
    re-score left old task samples, and all of samples/sm1/ after a re-score as sm2."""
    from harness import run_dir as run_dir_module
    from harness.results import load_run

    monkeypatch.setattr(run_dir_module, "RUNS_DIR", tmp_path / "runs")
    a = _preds(tmp_path / "a" / "preds.jsonl", [{"task": "bbh/navigate", "doc_id": 0, "prediction": "Yes"},
                                               {"task": "bbh/boolean_expressions", "doc_id": 0, "prediction": "True"}])
    b = _preds(tmp_path / "b" / "preds.jsonl", [{"task": "bbh/navigate", "doc_id": 0, "prediction": "No"}])
    # default folders: one per file
    assert main(["score", "--suite", "bbh", "--predictions", str(a)]) == 0
    assert main(["score", "--suite", "bbh", "--predictions", str(b)]) == 0
    assert len(list((tmp_path / "runs").iterdir())) == 2
    # one --output: the second file is refused, the first file's results stay
    out = tmp_path / "out"
    assert main(["score", "--suite", "bbh", "--predictions", str(a), "--output", str(out)]) == 0
    capsys.readouterr()
    assert main(["score", "--suite", "bbh", "--predictions", str(b), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "another predictions file with the same name" in err and err.count("\n") == 1
    assert sorted(load_run(out).samples["sm1"]) == ["bbh/boolean_expressions", "bbh/navigate"]
    # a re-score of the same file without one task: that task's samples go
    _preds(a, [{"task": "bbh/navigate", "doc_id": 0, "prediction": "Yes"}])
    assert main(["score", "--suite", "bbh", "--predictions", str(a), "--output", str(out)]) == 0
    assert sorted(p.name for p in (out / "samples" / "sm1").iterdir()) == ["bbh__navigate.jsonl"]
    assert sorted(load_run(out).samples["sm1"]) == ["bbh/navigate"]
    # a re-score under another system message: refused, as `run` refuses other settings
    capsys.readouterr()
    assert main(["score", "--suite", "bbh", "--predictions", str(a), "--output", str(out),
                 "--system-message", "2"]) == 2
    assert "holds a scoring under system message sm1, not sm2" in capsys.readouterr().err
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["sm1"]


@pytest.mark.parametrize("target", [None, [1], {"a": 1}, True])
def test_a_predictions_target_must_be_text(tmp_path, capsys, target):
    """Item 13: `"target": null` was stored as the string "None" and counted wrong."""
    p = _preds(tmp_path / "p.jsonl", [{"task": "bbh/navigate", "target": target, "prediction": "Yes"}])
    assert main(["score", "--suite", "bbh", "--predictions", str(p), "--output", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "p.jsonl:1: field 'target' must be a string, got" in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_names_and_symlinked_outputs(tmp_path, monkeypatch, capsys):
    """Item 6: `--name '../../../x'` wrote outside results/runs; a dangling --output symlink and a
    symlink loop both said "File exists"; resuming through a symlinked --output renamed the run."""
    from harness import run_dir as run_dir_module

    runs = tmp_path / "deep" / "results" / "runs"
    monkeypatch.setattr(run_dir_module, "RUNS_DIR", runs)
    p = _preds(tmp_path / "p.jsonl", [{"task": "bbh/navigate", "doc_id": 0, "prediction": "Yes"}])
    score = ["score", "--suite", "bbh", "--predictions", str(p)]
    for name in ("../../../x", "..", "a/b"):
        assert main(score + ["--name", name]) == 2
        err = capsys.readouterr().err
        assert "must be a plain folder name" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists() and not runs.exists()

    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    assert main(score + ["--output", str(tmp_path / "dangling")]) == 2
    assert f"is a symlink to {tmp_path / 'nowhere'}, which does not exist" in capsys.readouterr().err
    assert main(score + ["--output", str(tmp_path / "loop1")]) == 2
    assert "is a symlink loop" in capsys.readouterr().err

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    with FakeOpenAIServer() as srv:
        argv = ["run", "--suite", "bbh/navigate", "--limit", "1", "--model", "openai:gpt-4", "--no-progress",
                "--base-url", srv.base_url, "--output"]
        assert main(argv + [str(tmp_path / "real")]) == 0
        assert main(argv + [str(tmp_path / "link")]) == 0
    assert json.loads((tmp_path / "real" / "run.json").read_text())["name"] == "real"


@pytest.mark.parametrize("argv,message", [
    (["run", "--suite", "bbh/navigate", "--temperature", "0.7", "--seed", "1180591620717411303424"],
     "--seed must be an integer from 0 to 2**63-1, got 1180591620717411303424"),
    (["compare", "A", "B", "--seed", "-5"], "--seed must be an integer from 0 to 2**63-1, got -5"),
])
def test_seeds_out_of_range_are_one_line(tmp_path, capsys, argv, message):
    """Tracebacks: a seed beyond 64 bits (torch) and a negative bootstrap seed (numpy)."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_huge_max_len_is_refused_at_validation(tmp_path, capsys):
    """Tracebacks: `max_len: 1000000000000` passed validation, then raised MemoryError."""
    cfg = tmp_path / "t.yaml"
    data = _preds(tmp_path / "d.jsonl", [{"query": "q", "response": "r"}])
    cfg.write_text(f"output_dir: out\nstages:\n  - {{name: s1, init: 'tiny:0', data: {data}, max_len: 1000000000000}}\n")
    assert main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "max_len" in err and "<= 1e+06" in err and err.count("\n") == 1


@pytest.mark.parametrize("content", [b"not gzip at all\n", b"\x1f\x8b\x08\x00garbage"])
def test_a_corrupt_gz_predictions_file_is_one_line(tmp_path, capsys, content):
    """Tracebacks: a corrupt .gz predictions file (decontaminate already said so in one line)."""
    import gzip

    p = tmp_path / "p.jsonl.gz"
    p.write_bytes(content)
    assert main(["score", "--suite", "bbh", "--predictions", str(p), "--output", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"{p}:1: corrupt gzip file" in err and err.count("\n") == 1
    # cut short after some good lines: the line where it breaks is named
    good = gzip.compress(b"".join(json.dumps({"task": "bbh/navigate", "doc_id": i, "prediction": "Yes"}).encode()
                                  + b"\n" for i in range(200)))
    p.write_bytes(good[: len(good) // 2])
    assert main(["score", "--suite", "bbh", "--predictions", str(p), "--output", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "corrupt gzip file" in err and err.count("\n") == 1


def test_a_reader_leaving_a_large_html_report_is_an_error(tmp_path):
    """Pipes: `report --all --format html | head -c 10` exited 0 with no message after one
    64 KB write; docs/errors.md promises exit 2, "cannot write to standard output"."""
    import fcntl
    import os
    import subprocess

    root = Path(__file__).resolve().parent.parent
    runs = root / "results" / "published" / "smollm2-135m-instruct"
    r, w = os.pipe()
    fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: the writer blocks early, with most of the page unwritten
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "report", "--all", "--runs-dir", str(runs),
                             "--format", "html", "--no-plots"], stdout=w, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    os.close(w)
    assert len(os.read(r, 10)) == 10
    os.close(r)  # the reader leaves, as head -c 10 does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert "cannot write to standard output" in err and err.count("\n") == 1


# ----------------------------------------------------------------------------- item 5: damaged checkpoints

def _train_config(tmp_path: Path, init: str, epochs: int = 1) -> Path:
    rows = [{"id": i, "status": "ok", "system_message_id": 1, "model": "m", "query": f"q{i}?",
             "response": f"answer {i}"} for i in range(8)]
    _preds(tmp_path / "d.jsonl", rows)
    cfg = tmp_path / "train.json"
    cfg.write_text(json.dumps({"output_dir": "out", "seed": 0, "device": "cpu", "stages": [
        {"name": "s1", "data": "d.jsonl", "init": init, "epochs": epochs, "lr": 1e-3, "batch_size": 4,
         "max_len": 64}]}))
    return cfg


@pytest.mark.slow
def test_damaged_checkpoints_are_one_line(tmp_path, tiny_checkpoint, capsys):
    """Item 5: a truncated model.safetensors on resume and a garbage init checkpoint gave tracebacks."""
    cfg = _train_config(tmp_path, str(tiny_checkpoint))
    assert main(["train", "--config", str(cfg)]) == 0
    stage = tmp_path / "out" / "s1"
    # a kill after the checkpoint was written, before the stage was marked done, and the
    # weights cut short: the resume loads them
    state = json.loads((stage / "state.json").read_text())
    (stage / "state.json").write_text(json.dumps({k: v for k, v in state.items() if k not in ("done", "final")}))
    weights = stage / "epoch-1" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100_000])
    capsys.readouterr()
    assert main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert f"{stage / 'epoch-1'}: damaged or not a checkpoint" in err and "state.json" in err
    assert _errors(err) == 1 and "Traceback" not in err

    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "config.json").write_text("{not json")
    (garbage / "model.safetensors").write_bytes(b"\x00" * 64)
    (tmp_path / "g").mkdir()
    assert main(["train", "--config", str(_train_config(tmp_path / "g", str(garbage)))]) == 2
    err = capsys.readouterr().err
    assert f"{garbage}: damaged or not a checkpoint" in err and "field 'init'" in err and _errors(err) == 1


def _errors(stderr: str) -> int:
    """Error lines (warnings about the data may come before the one error line)."""
    return sum(line.startswith("orca-eval: error:") for line in stderr.splitlines())


def _limit_file_size():
    import resource
    import signal

    # a full disk without root: past RLIMIT_FSIZE, write() fails with EFBIG (SIGXFSZ ignored)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (5_000_000, 5_000_000))


@pytest.mark.slow
def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_resumes(tmp_path, tiny_checkpoint):
    """Item 5: a full disk while a checkpoint was saved gave a traceback (the resume worked)."""
    import os
    import subprocess

    cfg = _train_config(tmp_path, str(tiny_checkpoint))
    cmd = [sys.executable, "-m", "harness.cli", "train", "--config", str(cfg)]
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size)
    assert p.returncode == 2, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert "cannot write the checkpoint" in last and "free space and run the same command again" in last
    assert "Traceback" not in p.stderr
    stage = tmp_path / "out" / "s1"
    assert not list(stage.glob(".tmp-*"))  # the half-written checkpoint is gone
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert json.loads((stage / "state.json").read_text())["done"] is True


def test_a_second_run_or_train_on_a_busy_folder_says_so(tmp_path, monkeypatch, capsys, tiny_checkpoint):
    """Item 2: two identical `run` or `train` commands racing on one folder: the loser got a
    misleading message (a missing temporary file). The one holding the folder's lock is
    this test, standing in for the first command."""
    import os

    from orca.io import OneWriter

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    out = tmp_path / "run"
    with FakeOpenAIServer() as srv:
        argv = ["run", "--suite", "bbh/navigate", "--limit", "1", "--model", "openai:gpt-4", "--no-progress",
                "--base-url", srv.base_url, "--output", str(out)]
        with OneWriter(out, "orca-eval run", lock_path=out / ".lock"):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert f"{out}: another orca-eval run is writing to it (pid {os.getpid()})" in err
            assert "give another --output" in err and err.count("\n") == 1
        assert main(argv) == 0  # once the first has finished, the same command runs
        assert main(argv) == 0  # and again (the lock went with the first call)

    cfg = _train_config(tmp_path, str(tiny_checkpoint))
    stage = tmp_path / "out" / "s1"
    capsys.readouterr()
    with OneWriter(stage, "orca-eval train", lock_path=stage / ".lock"):
        assert main(["train", "--config", str(cfg)]) == 2
        err = capsys.readouterr().err
        assert "another orca-eval train (stage s1) is writing to it" in err and _errors(err) == 1
    assert not (stage / "state.json").exists()


def test_collect_refuses_an_id_answered_for_another_text(tmp_path, monkeypatch, capsys):
    """Item 9: a query's text changed under the same id kept the answer to the old text."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    q = _preds(tmp_path / "q.jsonl", [{"id": i, "query": f"what is {i}?", "system_message_id": 1} for i in range(3)])
    out = tmp_path / "t.jsonl"
    with FakeOpenAIServer() as srv:
        argv = ["data", "collect", "--queries", str(q), "--model", "gpt-4", "--out", str(out),
                "--base-url", srv.base_url]
        assert main(argv) == 0
        before = out.read_bytes()
        _preds(q, [{"id": i, "query": f"what is {i}?" if i != 1 else "what is 100?", "system_message_id": 1}
                   for i in range(3)])
        capsys.readouterr()
        srv.reset_stats()
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "1 query id(s) already answered" in err and "for another text (first: id '1')" in err
        assert err.count("\n") == 1 and srv.stats()["requests"] == 0 and out.read_bytes() == before


@pytest.mark.parametrize("task, example, message", [
    ("navigate", {"input": "Take 1 step. Do you return?\nOptions:\n- Yes\n- No", "target": "Maybe"},
     "field 'target' 'Maybe' can never be scored right (not a Yes or No answer)"),
    ("date_understanding", {"input": "When?\nOptions:\n(A) 01/01/2000\n(B) 02/01/2000", "target": "(E)"},
     "field 'target' '(E)' can never be scored right (option (E) is not among its options (A, B))"),
])
def test_a_bbh_target_no_answer_can_match_is_refused(tmp_path, data_dir, capsys, task, example, message):
    """Item 12: a BBH target that is not one of its options was accepted and counted wrong
    whatever the answer."""
    from harness.data import load_task_data

    good = json.loads((data_dir / "bbh" / f"{task}.json").read_text())["examples"][:3]
    (tmp_path / "bbh").mkdir()
    (tmp_path / "bbh" / f"{task}.json").write_text(json.dumps({"examples": good + [example]}))
    load_task_data.cache_clear()
    p = _preds(tmp_path / "p.jsonl", [{"task": task, "doc_id": 0, "prediction": "x"}])
    assert main(["score", "--suite", f"bbh/{task}", "--predictions", str(p), "--data-dir", str(tmp_path),
                 "--output", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"{task}.json: examples[3]: {message}" in err and err.count("\n") == 1
    # the real data (with its three damaged movie_recommendation / ruin_names targets, which
    # the robust extractor credits by their text) passes
    from harness.data import SUITES

    for t in SUITES["bbh"]:
        load_task_data(t, str(data_dir))


def test_a_system_message_longer_than_the_context_is_refused(tmp_path, tiny_checkpoint, capsys):
    """Item 10: a 1 MB `--system-message @file` ran far past the context window; every prompt
    was truncated with no warning and nothing in run.json."""
    big = tmp_path / "sys.txt"
    big.write_text("You are a careful assistant who explains every step. " * 20_000)  # ~1 MB
    argv = ["run", "--suite", "bbh/navigate", "--limit", "1", "--model", f"hf:{tiny_checkpoint}",
            "--max-new-tokens", "4", "--no-progress", "--output", str(tmp_path / "r")]
    assert main(argv + ["--system-message", f"@{big}"]) == 2
    err = capsys.readouterr().err
    assert "--system-message custom-" in err and "every prompt would be cut before the question" in err
    assert err.count("\n") == 1 and not (tmp_path / "r").exists()
    big.write_text("You are a careful assistant.")  # a normal one runs
    assert main(argv + ["--system-message", f"@{big}"]) == 0


def test_prompts_cut_to_the_context_are_counted_in_run_json(tmp_path, data_dir, tiny_checkpoint, capsys):
    """Item 10: prompts truncated to the context window left no warning and nothing in run.json."""
    from transformers import AutoTokenizer

    from harness.data import load_task_data
    from harness.prompts import user_prompt
    from orca.template import render_for_tokenizer

    argv = ["run", "--suite", "bbh/navigate", "--limit", "4", "--model", f"hf:{tiny_checkpoint}",
            "--max-new-tokens", "4", "--no-progress"]
    assert main(argv + ["--output", str(tmp_path / "a")]) == 0
    assert "truncated_prompts" not in json.loads((tmp_path / "a" / "run.json").read_text())
    capsys.readouterr()
    assert main(argv + ["--max-length", "64", "--output", str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err
    tok = AutoTokenizer.from_pretrained(tiny_checkpoint)
    docs = load_task_data("bbh/navigate", str(data_dir)).docs[:4]
    over = sum(len(tok(render_for_tokenizer(tok, user_prompt("bbh/navigate", d, "orca"), ""),
                       add_special_tokens=False)["input_ids"]) > 60 for d in docs)
    assert over > 0
    assert json.loads((tmp_path / "b" / "run.json").read_text())["truncated_prompts"] == {"bbh/navigate": over}
    assert f"orca-eval: warning: {over} prompt(s) longer than the model's context" in err


def test_one_cache_holds_both_modes_without_warnings(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    """The kind check of item 3 is per request: a loglikelihood run and a generate run of one
    model share one cache file, and neither calls the other's rows corrupt."""
    monkeypatch.setenv("ORCA_CACHE_DIR", str(tmp_path / "cache"))
    common = ["run", "--suite", "bbh/navigate", "--limit", "2", "--model", f"hf:{tiny_checkpoint}", "--no-progress",
              "--max-new-tokens", "4"]
    assert main(common + ["--mode", "loglikelihood", "--output", str(tmp_path / "ll")]) == 0
    assert main(common + ["--mode", "generate", "--output", str(tmp_path / "gen")]) == 0
    assert main(common + ["--mode", "loglikelihood", "--output", str(tmp_path / "ll")]) == 0
    err = capsys.readouterr().err
    assert "warning" not in err, err
    # a loglikelihood key holding text is computed again, with the warning
    [cache] = (tmp_path / "cache" / "outputs").glob("*.jsonl")
    rows = [json.loads(x) for x in cache.read_text().splitlines()]
    first_ll = next(r for r in rows if not isinstance(r["v"], str))
    first_ll["v"] = "text"
    cache.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(common + ["--mode", "loglikelihood", "--output", str(tmp_path / "ll2"), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "1 cached output(s) of the wrong type for --mode loglikelihood" in err
