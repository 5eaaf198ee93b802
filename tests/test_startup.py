"""`orca-eval --help`, `tasks` and `system-messages` start without the heavy libraries:
torch, transformers, scipy and lm-eval cost seconds under load, and none of these
commands needs them (each command imports what it needs when it runs)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "scipy", "numpy", "lm_eval", "datasets", "deepspeed", "accelerate")

PROBE = """
import json, sys, contextlib, io
from harness.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        rc = main(sys.argv[1:])
    except SystemExit as e:
        rc = e.code
print(json.dumps({"rc": rc, "heavy": sorted(m for m in %r if m in sys.modules)}))
""" % (HEAVY,)


@pytest.mark.parametrize("argv", [["--help"], ["tasks"], ["system-messages"], ["run", "--help"],
                                  ["compare", "--help"]])
def test_light_commands_import_no_heavy_library(argv):
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"rc": 0, "heavy": []}, out.stderr


def test_compare_choices_match_the_statistics_module():
    from harness.cli import build_parser
    from harness.compare.stats import CORRECTIONS

    parser = build_parser()
    compare = parser._subparsers._group_actions[0].choices["compare"]
    (action,) = [a for a in compare._actions if a.dest == "correction"]
    assert tuple(action.choices) == CORRECTIONS


def test_deepspeed_still_gets_its_accelerator_named(monkeypatch):
    """The hook that replaced the eager torch import: set just before deepspeed loads."""
    probe = ("import os, sys, harness.cli, orca.quiet\n"
             "os.environ.pop('DS_ACCELERATOR', None)\n"
             "orca.quiet.quiet_libraries()\n"
             "assert 'torch' not in sys.modules\n"
             "import importlib.util\n"
             "importlib.util.find_spec('deepspeed')\n"  # the hook runs at lookup, as on import
             "import torch\n"
             "print(os.environ.get('DS_ACCELERATOR'), torch.cuda.is_available())\n")
    monkeypatch.delenv("DS_ACCELERATOR", raising=False)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    value, cuda = out.stdout.split()
    assert out.returncode == 0, out.stderr
    assert value == ("None" if cuda == "True" else "cpu")
