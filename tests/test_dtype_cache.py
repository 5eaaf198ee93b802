"""--dtype is a first-class setting: `auto` follows the chip, run.json records it, and the
output cache keys everything that changes an output (dtype, --max-length), so a bf16 run
never reuses float32 outputs and a truncated-context run never feeds a default one.
`--no-cache` recomputes without replacing entries other runs read."""
from __future__ import annotations

import json

import pytest

from harness.models import precision
from harness.cli import main
from harness.models.precision import resolve_dtype
from orca.errors import UserError


@pytest.mark.parametrize("units, expected", [(("avx512_bf16",), "bfloat16"), (("amx_bf16", "avx512_bf16"), "bfloat16"),
                                             ((), "float32")])
def test_auto_on_cpu_follows_the_bf16_units(monkeypatch, units, expected):
    monkeypatch.setattr(precision, "cpu_bf16_units", lambda: units)
    assert resolve_dtype(None, "cpu") == expected
    assert resolve_dtype("auto", "cpu") == expected


def test_auto_on_cuda_and_a_gpu_without_bf16(monkeypatch):
    monkeypatch.setattr(precision, "_cuda_bf16", lambda device: True)
    assert resolve_dtype("auto", "cuda") == "bfloat16"
    monkeypatch.setattr(precision, "_cuda_bf16", lambda device: False)
    assert resolve_dtype("auto", "cuda:1") == "float32"
    with pytest.raises(UserError, match="does not support bfloat16"):
        resolve_dtype("bfloat16", "cuda")
    assert resolve_dtype("float16", "cuda") == "float16"


def test_slow_pairs_run_with_a_note(monkeypatch):
    notes = []
    monkeypatch.setattr(precision, "cpu_bf16_units", lambda: ())
    assert resolve_dtype("bfloat16", "cpu", warn=notes.append) == "bfloat16"
    assert resolve_dtype("float16", "cpu", warn=notes.append) == "float16"
    assert len(notes) == 2 and all("\n" not in n and "slower than float32" in n for n in notes)
    notes.clear()
    assert resolve_dtype("float32", "cpu", warn=notes.append) == "float32" and not notes


def test_cpu_flags_are_read_from_cpuinfo(monkeypatch, tmp_path):
    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 avx2\n")
    real = precision.Path

    monkeypatch.setattr(precision, "Path", lambda p: fake if p == "/proc/cpuinfo" else real(p))
    precision.cpu_bf16_units.cache_clear()
    try:
        assert precision.cpu_bf16_units() == ("avx512_bf16",)
    finally:
        precision.cpu_bf16_units.cache_clear()


def test_bad_dtype_is_one_line_exit_2(tiny_checkpoint, capsys):
    assert main(["run", "--suite", "bbh/navigate", "--model", f"hf:{tiny_checkpoint}", "--dtype", "int8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--dtype 'int8'" in err[0]


def _cache_rows(cache_dir):
    return [json.loads(line) for f in sorted((cache_dir / "outputs").glob("*.jsonl")) for line in open(f)]


def _run(tiny_checkpoint, out, *extra):
    args = ["run", "--suite", "bbh/navigate", "--model", f"hf:{tiny_checkpoint}", "--limit", "3",
            "--max-new-tokens", "6", "--output", str(out), "--no-progress", *extra]
    assert main(args) == 0
    return json.loads((out / "run.json").read_text())


def test_dtype_and_max_length_are_in_the_cache_key(tiny_checkpoint, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("ORCA_CACHE_DIR", str(cache))
    meta = _run(tiny_checkpoint, tmp_path / "f32", "--dtype", "float32")
    assert meta["model"]["dtype"] == "float32"
    assert len(_cache_rows(cache)) == 3
    meta = _run(tiny_checkpoint, tmp_path / "bf16", "--dtype", "bfloat16")
    assert meta["model"]["dtype"] == "bfloat16"
    assert len(_cache_rows(cache)) == 6          # computed again, not the float32 outputs
    _run(tiny_checkpoint, tmp_path / "short", "--dtype", "float32", "--max-length", "48")
    assert len(_cache_rows(cache)) == 9          # a shorter context is another output
    # and the default-context float32 run still finds its own three outputs
    before = _cache_rows(cache)
    _run(tiny_checkpoint, tmp_path / "f32-again", "--dtype", "float32")
    assert _cache_rows(cache) == before


def test_no_cache_never_replaces_shared_entries(tiny_checkpoint, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("ORCA_CACHE_DIR", str(cache))
    _run(tiny_checkpoint, tmp_path / "a", "--dtype", "float32")
    rows = _cache_rows(cache)
    # plant a value a --no-cache run would disagree with: it must survive that run
    path = next((cache / "outputs").glob("*.jsonl"))
    planted = [{"k": r["k"], "v": f"planted {i}"} for i, r in enumerate(rows)]
    path.write_text("".join(json.dumps(r) + "\n" for r in planted))
    _run(tiny_checkpoint, tmp_path / "b", "--dtype", "float32", "--no-cache")
    assert _cache_rows(cache) == planted
    samples = [json.loads(line) for line in open(tmp_path / "b" / "samples" / "sm1" / "bbh__navigate.jsonl")]
    assert [s["output"] for s in samples] == [r["v"] for r in rows]   # the run used its fresh outputs


def test_a_finished_run_is_not_reused_for_another_dtype(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ORCA_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    _run(tiny_checkpoint, out, "--dtype", "float32")
    capsys.readouterr()
    args = ["run", "--suite", "bbh/navigate", "--model", f"hf:{tiny_checkpoint}", "--limit", "3",
            "--max-new-tokens", "6", "--output", str(out), "--no-progress", "--dtype", "bfloat16"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another dtype (float32)" in err[0]
    # the same command as the finished run is still the finished run
    assert _run(tiny_checkpoint, out, "--dtype", "float32")["model"]["dtype"] == "float32"
