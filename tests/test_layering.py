"""orca/ (training and data) sits below harness/ (evaluation): it never imports it.

Two checks, because either alone can miss a case: importing every orca module with
`harness` blocked catches module-level imports (also indirect ones, through a third
package); reading every orca file's syntax tree catches imports inside functions,
which only run when that function is called."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORCA_FILES = sorted((ROOT / "orca").rglob("*.py"))

BLOCKED_IMPORT = r'''
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "harness" or name.startswith("harness."):
            raise ImportError(f"orca imported {name}")
sys.meta_path.insert(0, Block())
import orca
names = [m.name for m in pkgutil.walk_packages(orca.__path__, "orca.")]
for name in names:
    importlib.import_module(name)
assert not [m for m in sys.modules if m == "harness" or m.startswith("harness.")]
print(' '.join(names))
'''


def test_every_orca_module_imports_with_harness_blocked():
    out = subprocess.run([sys.executable, "-c", BLOCKED_IMPORT], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    expected = {".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for f in ORCA_FILES}
    assert set(out.stdout.split()) == expected - {"orca"}   # every module was imported


def _imported_modules(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def test_no_orca_file_imports_harness_anywhere():
    found = [f"{p.relative_to(ROOT)}:{line}: {mod}" for p in ORCA_FILES for line, mod in _imported_modules(p)
             if mod == "harness" or mod.startswith("harness.")]
    assert found == []


def test_the_static_check_sees_imports_inside_functions(tmp_path):
    # the check above must not pass just because it reads only module-level lines
    f = tmp_path / "m.py"
    f.write_text("def f():\n    from harness.runner import run_evaluation\n    import harness.compare\n")
    assert [m for _, m in _imported_modules(f)] == ["harness.runner", "harness.compare"]
