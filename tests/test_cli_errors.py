"""How `orca-eval` ends when it cannot go on: an argparse mistake, and a write that fails (a file
too large; standard output on a full device, a closed pipe, a closed descriptor), are one
`orca-eval: error:` line with exit 2 that leaves no partial file -- while a real bug still
shows its traceback."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from helpers import BASELINE

ROOT = Path(__file__).resolve().parent.parent


def test_argparse_mistakes_are_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "--limit", "many"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("orca-eval: error: run: argument --limit")


# ----------------------------------------------------------------------------- failing writes

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


# ----------------------------------------------------------------------------- bugs keep their traceback

@pytest.mark.parametrize("exc", [TypeError("a bug"), KeyError("field"), OSError(111, "Connection refused")])
def test_a_real_bug_still_raises(monkeypatch, exc):
    import harness.cli.run as cli_run

    def broken(args):
        raise exc

    monkeypatch.setattr(cli_run, "cmd_tasks", broken)
    with pytest.raises(type(exc)):
        main(["tasks"])
