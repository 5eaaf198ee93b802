"""`orca-eval run`'s flags are checked before anything is loaded, or read from or written to a
cache or an output directory -- even with a warm cache. Every numeric setting goes through
orca.values.check_number (finite, the right type, in range); the backend flags (--dtype,
--max-length, --device) are checked before the model loads; anything that reads as an
integer is a system-message id."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.cli import main
from harness.prompts import parse_system_variant
from helpers import error_line, one_line_error, tree_bytes
from openai_server import FakeOpenAIServer


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
    before = tree_bytes(cache)
    out = tmp_path / "out"
    rc = main(["run", "--suite", "bbh/navigate", "--model", "openai:gpt-4", "--base-url", "http://127.0.0.1:9/v1",
               "--limit", "1", "--output", str(out), "--no-progress"] + flags)
    assert rc == 2 and message in error_line(capsys)
    assert not out.exists() and tree_bytes(cache) == before


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
        cache, run_files = tree_bytes(Path(os.environ["ORCA_CACHE_DIR"])), tree_bytes(out)
        srv.reset_stats()
        assert main(args + ["--tpm", "-5"]) == 2
        assert "--tpm must be > 0" in error_line(capsys)
        assert main(args + ["--temperature", "nan"]) == 2
        assert "--temperature must be a finite number" in error_line(capsys)
        assert srv.stats()["requests"] == 0
    assert tree_bytes(Path(os.environ["ORCA_CACHE_DIR"])) == cache and tree_bytes(out) == run_files
    json.loads((out / "run.json").read_text())  # still valid JSON, no NaN


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


@pytest.mark.parametrize("spec, name", [("3", "sm3"), ("+3", "sm3"), (" 007 ", "sm7"), ("sm12", "sm12"),
                                        ("SM 2", "sm2"), ("none", "none"), ("-1 apples", None)])
def test_system_message_ids_and_text(spec, name):
    v = parse_system_variant(spec)
    if name:
        assert v.name == name
    else:
        assert v.name.startswith("custom-") and v.text == spec
