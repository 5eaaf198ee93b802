"""Functions that take a path accept `str` as well as `Path`: the documented snippet
`write_ci_data('/tmp/ci')` (docs/experiment-smollm2-two-stage.md) raised TypeError
(str / str) because the function did `root / "teacher"` on what it was given."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# harness/models/lmeval_backend.py's two path helpers are only called with the Paths it builds itself.
EXEMPT = {("harness/models/lmeval_backend.py", "fingerprint_checkpoint"),
          ("harness/models/lmeval_backend.py", "check_causal_lm_dir")}


def _path_only_parameters():
    for f in sorted([*ROOT.glob("harness/**/*.py"), *ROOT.glob("orca/**/*.py")]):
        rel = f.relative_to(ROOT).as_posix()
        tree = ast.parse(f.read_text())
        # module-level functions and methods: what callers outside the function can reach
        functions = [*tree.body, *(n for c in tree.body if isinstance(c, ast.ClassDef) for n in c.body)]
        for node in functions:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_") or (rel, node.name) in EXEMPT:
                continue
            for a in node.args.args + node.args.kwonlyargs:
                ann = ast.unparse(a.annotation) if a.annotation is not None else ""
                # a parameter typed as a path (or a list of them) must say it takes str too
                if re.fullmatch(r"(list\[)?Path(\])?( \| None)?", ann):
                    yield f"{rel}:{node.lineno} {node.name}({a.arg}: {ann})"


def test_public_functions_typed_with_path_also_take_str():
    assert list(_path_only_parameters()) == []


def test_the_documented_write_ci_data_snippet_runs(tmp_path):
    doc = (ROOT / "docs" / "experiment-smollm2-two-stage.md").read_text()
    (snippet,) = re.findall(r'python3? -c "(from harness\.ci_regression import write_ci_data; [^"]+)"', doc)
    snippet = snippet.replace("/tmp/ci", str(tmp_path / "ci"))
    out = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "ci" / "evaldata" / "bbh" / "date_understanding.json").is_file()


def test_readers_take_str(tmp_path):
    from harness.results import read_json_object
    from harness.run_dir import existing_run_meta
    from harness.suites import get_suite

    (tmp_path / "x.json").write_text('{"examples": [{"input": "q", "target": "a"}]}')
    assert read_json_object(str(tmp_path / "x.json")) == {"examples": [{"input": "q", "target": "a"}]}
    assert existing_run_meta(str(tmp_path / "nothing-here")) is None
    assert get_suite("bbh").read_file(str(tmp_path / "x.json"))
