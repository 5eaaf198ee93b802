"""Issue 13, class 3 -- wrong exit codes and silent nonsense.

Every numeric setting, flag or config field, goes through orca.values.check_number
(finite, the right type, in range) before anything is read from or written to a cache,
an output file or a run directory; anything that reads as an integer is a system-message
id; `data collect` exits non-zero while failed queries remain; `score` guards its output
folder like `run`, and never stores a prediction under an example id it does not have."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from openai_server import FakeOpenAIServer  # noqa: E402

from harness.cli import main  # noqa: E402
from harness.data import load_task_data  # noqa: E402
from orca.errors import UserError  # noqa: E402
from harness.prompts import parse_system_variant  # noqa: E402
from helpers import error_line  # noqa: E402
from harness.results import load_run  # noqa: E402
from orca.train_config import load_train_config  # noqa: E402
from orca.values import check_device, check_number  # noqa: E402


def _tree(path: Path) -> dict:
    """Every file under `path` with its bytes (empty when `path` does not exist)."""
    return {p: p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()} if path.exists() else {}


# ----------------------------------------------------------------------------- the helper

@pytest.mark.parametrize("value, kwargs, message", [
    (float("nan"), {}, "must be a finite number, got nan"),
    (float("inf"), {"low": 0}, "must be a finite number, got inf"),
    (float("-inf"), {"high": 0}, "must be a finite number, got -inf"),
    (True, {}, "must be a number, got True"),
    (True, {"integer": True}, "must be an integer, got True"),
    (1.5, {"integer": True}, "must be an integer, got 1.5"),
    ("3", {}, "must be a number, got '3'"),
    (None, {}, "must be a number, got None"),
    (-1, {"low": 0}, "must be >= 0, got -1"),
    (0, {"low": 0, "low_open": True}, "must be > 0, got 0"),
    (5, {"low": 0, "high": 1}, "must be >= 0 and <= 1, got 5"),
    (10 ** 400, {"integer": True, "high": 10}, "must be <= 10"),
])
def test_check_number_refuses(value, kwargs, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_number(value, "X", **kwargs)


def test_check_number_accepts_edges():
    assert check_number(0, "X", low=0) == 0
    assert check_number(1.0, "X", low=0, high=1) == 1.0
    assert check_number(None, "X", none_ok=True) is None
    assert check_device("cuda:1") == "cuda:1" and check_device(None) is None
    for bad in ("foo", "cuda:", "gpu", "cuda:x", "CPU ", "cuda\n"):
        with pytest.raises(UserError, match="--device must be cpu, cuda, cuda:N or mps"):
            check_device(bad)


def test_check_device_here_asks_this_machine(monkeypatch):
    """`here`: the form, then whether this machine has the device (torch's answer, faked)."""
    import torch

    assert check_device("cpu", here=True) == "cpu" and check_device(None, here=True) is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError) as e:
        check_device("cuda", here=True)
    assert str(e.value) == f"--device cuda: no CUDA GPU is available here (torch {torch.__version__}); use --device cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_device("cuda:1", here=True) == "cuda:1"
    with pytest.raises(UserError) as e:
        check_device("cuda:2", here=True)
    assert str(e.value) == "--device cuda:2: this machine has 2 CUDA device(s) (cuda:0..cuda:1)"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(UserError) as e:
        check_device("mps", here=True)
    assert str(e.value) == "--device mps: Apple MPS is not available here; use --device cpu"
    with pytest.raises(UserError, match="--device must be cpu"):
        check_device("gpu", here=True)  # the form first, without asking torch


# ----------------------------------------------------------------------------- run

@pytest.mark.parametrize("flags, message", [
    (["--temperature", "nan"], "--temperature must be a finite number, got nan"),
    (["--temperature", "inf"], "--temperature must be a finite number, got inf"),
    (["--temperature", "-0.5"], "--temperature must be >= 0"),
    (["--top-p", "nan"], "--top-p must be a finite number"),
    (["--top-p", "0"], "--top-p must be > 0 and <= 1"),
    (["--tpm", "-5"], "--tpm must be > 0, got -5.0"),
    (["--tpm", "nan"], "--tpm must be a finite number"),
    (["--rpm", "0"], "--rpm must be > 0"),
    (["--max-retries", "-1"], "--max-retries must be >= 0"),
    (["--device", "foo"], "--device must be cpu, cuda, cuda:N or mps, got 'foo'"),
    (["--max-length", "-5"], "--max-length must be >= 1"),
    (["--limit", "0"], "--limit must be >= 1 (got 0)"),
    (["--batch-size", "0"], "--batch-size must be >= 1 (got 0)"),
    (["--max-new-tokens", "-3"], "--max-new-tokens must be >= 1 (got -3)"),
    (["--repeats", "0"], "--repeats must be >= 1 (got 0)"),
    (["--concurrency", "0"], "--concurrency must be >= 1 (got 0)"),
    (["--system-message", "-1"], "unknown system message id -1"),
    (["--system-message", "0"], "unknown system message id 0"),
    (["--system-message", "+17"], "unknown system message id 17"),
    (["--system-message", "sm-3"], "unknown system message id -3"),
])
def test_run_refuses_nonsense_before_touching_cache_or_output(tmp_path, capsys, flags, message):
    cache = Path(os.environ["ORCA_CACHE_DIR"])
    before = _tree(cache)
    out = tmp_path / "out"
    rc = main(["run", "--suite", "bbh/navigate", "--model", "openai:gpt-4", "--base-url", "http://127.0.0.1:9/v1",
               "--limit", "1", "--output", str(out), "--no-progress"] + flags)
    assert rc == 2 and message in error_line(capsys)
    assert not out.exists() and _tree(cache) == before


@pytest.mark.parametrize("flag", ["--limit", "--batch-size", "--max-new-tokens", "--repeats", "--concurrency"])
def test_run_integer_options_refuse_a_non_integer_while_parsing(tmp_path, capsys, flag):
    with pytest.raises(SystemExit) as e:
        main(["run", "--suite", "bbh/navigate", flag, "1.5", "--output", str(tmp_path / "out")])
    assert e.value.code == 2
    assert f"run: argument {flag}: expected an integer, got '1.5'" in error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_run_refuses_bad_tpm_even_with_a_warm_cache(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    out = tmp_path / "api"
    with FakeOpenAIServer(responder=lambda messages, model: "The answer is (A).") as srv:
        args = ["run", "--suite", "bbh/navigate", "--model", "openai:gpt-4", "--base-url", srv.base_url,
                "--limit", "2", "--output", str(out), "--no-progress"]
        assert main(args) == 0
        capsys.readouterr()
        cache, run_files = _tree(Path(os.environ["ORCA_CACHE_DIR"])), _tree(out)
        srv.reset_stats()
        assert main(args + ["--tpm", "-5"]) == 2
        assert "--tpm must be > 0" in error_line(capsys)
        assert main(args + ["--temperature", "nan"]) == 2
        assert "--temperature must be a finite number" in error_line(capsys)
        assert srv.stats()["requests"] == 0
    assert _tree(Path(os.environ["ORCA_CACHE_DIR"])) == cache and _tree(out) == run_files
    json.loads((out / "run.json").read_text())  # still valid JSON, no NaN


@pytest.mark.parametrize("spec, name", [("3", "sm3"), ("+3", "sm3"), (" 007 ", "sm7"), ("sm12", "sm12"),
                                        ("SM 2", "sm2"), ("none", "none"), ("-1 apples", None)])
def test_system_message_ids_and_text(spec, name):
    v = parse_system_variant(spec)
    if name:
        assert v.name == name
    else:
        assert v.name.startswith("custom-") and v.text == spec


# ----------------------------------------------------------------------------- data collect

def _queries(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"q{i}", "query": f"what is {i}?", "system_message_id": 1}) + "\n"
                            for i in range(n)))
    return path


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


# ----------------------------------------------------------------------------- compare

@pytest.mark.parametrize("flags, message", [
    (["--min-delta", "nan"], "--min-delta must be a finite number"),
    (["--min-delta", "inf"], "--min-delta must be a finite number"),
    (["--min-delta", "-1"], "--min-delta must be >= 0"),
    (["--alpha", "nan"], "--alpha must be a finite number"),
    (["--alpha", "1"], "--alpha must be > 0 and < 1"),
    (["--bootstrap", "1000000000"], "--bootstrap must be >= 100 and <= 1e+06"),
    (["--bootstrap", "10"], "--bootstrap must be >= 100"),
])
def test_compare_refuses_nonsense_settings(tmp_path, capsys, flags, message):
    # checked before either run is read, so the runs need not exist
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")] + flags) == 2
    assert message in error_line(capsys)


# ----------------------------------------------------------------------------- training config

@pytest.mark.parametrize("line, message", [
    ("warmup_ratio: 5", "field 'warmup_ratio' must be >= 0 and <= 1, got 5"),
    ("warmup_ratio: -0.1", "field 'warmup_ratio' must be >= 0 and <= 1"),
    ("min_lr_ratio: -1", "field 'min_lr_ratio' must be >= 0 and <= 1, got -1"),
    ("min_lr_ratio: 1.5", "field 'min_lr_ratio' must be >= 0 and <= 1"),
    ("grad_clip: -1", "field 'grad_clip' must be > 0, got -1"),
    ("grad_clip: 0", "field 'grad_clip' must be > 0"),
    ("weight_decay: -3", "field 'weight_decay' must be >= 0, got -3"),
    ("weight_decay: .inf", "field 'weight_decay' must be a finite number, got inf"),
    ("lr: .nan", "field 'lr' must be a finite number, got nan"),
    ("lr: -.inf", "field 'lr' must be a finite number"),
    ("lr: 0", "field 'lr' must be > 0"),
    ("max_examples: 0", "field 'max_examples' must be > 0, got 0"),
    ("max_examples: -1", "field 'max_examples' must be > 0, got -1"),
    ("max_examples: true", "field 'max_examples' must be int or null"),
    ("save_every_steps: -1", "field 'save_every_steps' must be >= 0"),
    ("warmup_steps: -2", "field 'warmup_steps' must be >= 0"),
    ("betas: [0.9, 1.5]", "field 'betas'[1] must be >= 0 and < 1"),
    ("betas: [.nan, 0.9]", "field 'betas'[0] must be a finite number"),
])
def test_training_config_refuses_out_of_range_values(tmp_path, capsys, line, message):
    (tmp_path / "d.jsonl").write_text('{"system": "", "query": "q", "response": "r"}\n')
    cfg = tmp_path / "train.yaml"
    cfg.write_text(f"output_dir: out\nstages:\n  - name: s1\n    data: d.jsonl\n    init: tiny:0\n    {line}\n")
    with pytest.raises(UserError, match=r"train.yaml: stages\[0\]: "):
        load_train_config(cfg)
    assert main(["train", "--config", str(cfg)]) == 2
    assert message in error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_training_config_top_level_log_every(tmp_path):
    cfg = tmp_path / "t.yaml"
    cfg.write_text("output_dir: out\nlog_every: 0\nstages: [{name: s, data: d.jsonl, init: 'tiny:0'}]\n")
    with pytest.raises(UserError, match=r"t.yaml: field 'log_every' must be > 0"):
        load_train_config(cfg)


# ----------------------------------------------------------------------------- score

def _bbh_predictions(path: Path, data_dir, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_score_refuses_a_non_empty_folder_without_a_run(tmp_path, data_dir, capsys):
    preds = _bbh_predictions(tmp_path / "p.jsonl", data_dir,
                             [{"task": "bbh/navigate", "doc_id": 0, "prediction": "Yes"}])
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my own file")
    before = _tree(folder)
    assert main(["score", "--suite", "bbh/navigate", "--predictions", str(preds), "--output", str(folder)]) == 2
    assert "not empty and holds no orca-eval run" in error_line(capsys)
    assert _tree(folder) == before
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["score", "--suite", "bbh/navigate", "--predictions", str(preds), "--output", str(afile)]) == 2
    assert "is a file, not a directory" in error_line(capsys)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'{"model": "x"}'])
def test_score_with_a_corrupt_run_json_is_one_line(tmp_path, data_dir, capsys, content):
    preds = _bbh_predictions(tmp_path / "p.jsonl", data_dir,
                             [{"task": "bbh/navigate", "doc_id": 0, "prediction": "Yes"}])
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_bytes(content)
    assert main(["score", "--suite", "bbh/navigate", "--predictions", str(preds), "--output", str(folder)]) == 2
    err = error_line(capsys)
    assert "corrupt run.json" in err or "different model" in err
    assert (folder / "run.json").read_bytes() == content


@pytest.mark.parametrize("field, value", [("doc_id", True), ("doc_id", False), ("index", True), ("doc_id", 1.0),
                                          ("doc_id", "3"), ("doc_id", -1)])
def test_score_refuses_a_doc_id_that_is_not_an_integer(tmp_path, data_dir, capsys, field, value):
    preds = _bbh_predictions(tmp_path / "p.jsonl", data_dir,
                             [{"task": "bbh/navigate", field: value, "prediction": "Yes"}])
    assert main(["score", "--suite", "bbh/navigate", "--predictions", str(preds),
                 "--output", str(tmp_path / "r")]) == 2
    assert f"p.jsonl:1: field {field!r}" in error_line(capsys)
    assert not (tmp_path / "r").exists()


def test_score_target_only_rows_never_take_a_real_example_id(tmp_path, data_dir):
    docs = load_task_data("bbh/navigate", str(data_dir)).docs
    n = len(docs)
    rows = [{"task": "bbh/navigate", "target": "Yes", "prediction": "Yes"},   # used to become doc_id 0 ...
            {"task": "bbh/navigate", "target": "No", "prediction": "Yes"},
            {"task": "bbh/navigate", "doc_id": 0, "prediction": docs[0]["target"]},  # ... and collide here
            {"task": "bbh/navigate", "doc_id": 1, "prediction": docs[1]["target"]}]
    preds = _bbh_predictions(tmp_path / "p.jsonl", data_dir, rows)
    assert main(["score", "--suite", "bbh/navigate", "--predictions", str(preds), "--output", str(tmp_path / "r")]) == 0
    samples = load_run(tmp_path / "r").samples["sm1"]["bbh/navigate"]
    by_id = {r["doc_id"]: r for r in samples}
    assert sorted(by_id) == [0, 1, n, n + 1]
    assert by_id[0]["prompt_sha"] and by_id[1]["prompt_sha"]   # the real examples, as located
    assert by_id[n]["prompt_sha"] is None and by_id[n]["correct"] is True
    assert by_id[n + 1]["correct"] is False


@pytest.mark.parametrize("scale", ["nan", "inf", "0", "1.5", "-1"])
def test_data_sample_refuses_a_bad_scale(tmp_path, capsys, scale):
    flan = tmp_path / "flan.jsonl"
    flan.write_text('{"inputs": "q", "targets": "a", "task_source": "T0", "task_name": "t", '
                    '"template_type": "zs_opt"}\n')
    assert main(["data", "sample", "--flan", str(flan), "--out-dir", str(tmp_path / "out"), "--scale", scale]) == 2
    assert "--scale must be" in error_line(capsys)
    assert not (tmp_path / "out").exists()
