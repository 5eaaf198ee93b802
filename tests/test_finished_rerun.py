"""Re-running a finished evaluation loads no model (harness/finished.py): it took 15.6 s,
the README called it instant. Anything that could change the results takes the normal
path: other checkpoint files, other code, --no-cache, an unfinished run."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import harness.runner as runner
from harness.runner import RunConfig, run_evaluation


def _cfg(model, out, **kw):
    return RunConfig(suite="bbh/navigate", model=model, limit=2, max_new_tokens=2, output=str(out), progress=False,
                     **kw)


@pytest.fixture
def finished(tiny_checkpoint, data_dir, tmp_path, monkeypatch):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, ckpt)
    monkeypatch.setenv("ORCA_DATA_DIR", str(data_dir))
    run_dir = run_evaluation(_cfg(f"hf:{ckpt}", tmp_path / "run"))
    return ckpt, run_dir


class _Loaded(Exception):
    pass


def _no_model(monkeypatch):
    def refuse(*a, **k):
        raise _Loaded
    monkeypatch.setattr(runner, "make_backend", refuse)


def test_rerun_of_a_finished_run_loads_no_model(finished, monkeypatch):
    ckpt, run_dir = finished
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    _no_model(monkeypatch)
    assert run_evaluation(_cfg(f"hf:{ckpt}", run_dir)) == run_dir
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("change", ["checkpoint", "code", "no-cache", "unfinished", "settings"])
def test_anything_that_could_change_the_results_loads_the_model(finished, monkeypatch, change):
    ckpt, run_dir = finished
    kw = {}
    if change == "checkpoint":
        cfg = json.loads((ckpt / "config.json").read_text())
        (ckpt / "config.json").write_text(json.dumps({**cfg, "note": "edited"}))
    elif change == "code":
        monkeypatch.setattr("harness.finished.code_fingerprint", lambda: "other-code")
    elif change == "no-cache":
        kw["use_cache"] = False
    elif change == "unfinished":
        meta = json.loads((run_dir / "run.json").read_text())
        (run_dir / "run.json").write_text(json.dumps({**meta, "finished_at": None}))
    elif change == "settings":
        kw["seed"] = 7  # the same output folder with another seed is refused after the model loads
    _no_model(monkeypatch)
    with pytest.raises(_Loaded):
        run_evaluation(_cfg(f"hf:{ckpt}", run_dir, **kw))


def test_rerun_from_the_command_line_imports_no_model_library(finished, tmp_path):
    ckpt, run_dir = finished
    probe = ("import sys, time; t = time.perf_counter(); from harness.cli import main; "
             f"rc = main(['run', '--suite', 'bbh/navigate', '--limit', '2', '--max-new-tokens', '2', "
             f"'--model', 'hf:{ckpt}', '--output', '{run_dir}']); "
             "print(rc, time.perf_counter() - t, sorted(m for m in ('torch', 'transformers', 'lm_eval') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                         env={**os.environ})
    rc, seconds, heavy = out.stdout.strip().splitlines()[-1].split(" ", 2)
    assert (rc, heavy) == ("0", "[]"), out.stdout + out.stderr
    assert "finished already" in out.stdout and "bbh/navigate" in out.stdout
    assert float(seconds) < 3.0
