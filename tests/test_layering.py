"""orca/ (training and data) sits below harness/ (evaluation): it never imports it.

Two checks, because either alone can miss a case: importing every orca module with
`harness` blocked catches module-level imports (also indirect ones, through a third
package); reading every orca file's syntax tree catches imports inside functions,
which only run when that function is called.

Below them, on one import graph of the tree: no import cycle, and no library module
importing the command line."""
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


# ------------------------------------------------------------------ cycles and the CLI layer
#
# One import graph of harness/, orca/ and the task helpers tasks/*/utils.py, read from the
# files (so imports inside functions count): `import` and `from ... import` statements,
# importlib.import_module calls, and files loaded by path (exec), which FILE_LOADERS must
# list. Importing a submodule also runs its package's __init__; that implicit step is no
# edge (Python allows it), an explicit import of the package is.

TASK_HELPERS = sorted((ROOT / "tasks").glob("*/utils.py"))
# Modules that load Python files by path or import modules by a computed name, and what they
# load: each loaded module's imports count as the loader's. A module that loads files by path
# and is not listed fails the test below. The suite registry imports harness/suites/<name>.py
# for each tasks/<name>/ folder.
FILE_LOADERS = {"harness.suites": [f"harness/suites/{d.name}.py" for d in sorted((ROOT / "tasks").iterdir())
                                   if d.is_dir()]}
LOADS_FILES = ("spec_from_file_location", "exec_module", "run_path", "SourceFileLoader", "exec")
# Cycles the tree still has, each as the set of its modules; each leaves this list when it is
# broken (test_known_cycles_are_still_there fails until it does).
KNOWN_CYCLES: list[set[str]] = []


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _graph(files) -> dict[str, set[str]]:
    names = {_module_name(p): p for p in files}
    known = set(names)

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, path in names.items():
        tree = ast.parse(path.read_text(), str(path))
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        targets: set[str] = set()
        loads_by_name = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(filter(None, (resolve(a.name) for a in node.names)))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                for a in node.names:
                    target = resolve(f"{base}.{a.name}") if f"{base}.{a.name}" in known else resolve(base)
                    if target:
                        targets.add(target)
            elif isinstance(node, ast.Call):
                fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if fn == "import_module":
                    arg = node.args[0] if node.args else None
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        targets.update(filter(None, [resolve(arg.value)]))
                    else:
                        loads_by_name = True
                elif fn in LOADS_FILES:
                    assert mod in FILE_LOADERS, f"{path.relative_to(ROOT)}:{node.lineno}: loads a file by path " \
                                                f"({fn}); list it and the files in FILE_LOADERS"
        if loads_by_name:  # a computed name: every string in the module that names a module counts
            targets.update(n.value for n in ast.walk(tree)
                           if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in known)
        loaded = FILE_LOADERS.get(mod, [])
        for pattern in [loaded] if isinstance(loaded, str) else loaded:
            targets.update(_module_name(p) for p in ROOT.glob(pattern) if _module_name(p) in known)
        graph[mod] = targets - {mod}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _tree_graph() -> dict[str, set[str]]:
    return _graph([*ROOT.glob("harness/**/*.py"), *ORCA_FILES, *TASK_HELPERS])


def test_no_import_cycle_among_harness_orca_and_the_task_helpers():
    unexpected = [sorted(c) for c in _cycles(_tree_graph()) if c not in KNOWN_CYCLES]
    assert unexpected == []


def test_known_cycles_are_still_there():
    # a cycle that is gone must leave KNOWN_CYCLES, or it could come back unnoticed
    cycles = _cycles(_tree_graph())
    assert [sorted(k) for k in KNOWN_CYCLES if k not in cycles] == []


def test_library_code_imports_no_cli_module():
    """The command line sits on top: harness/cli/ and orca/cli_*.py import the library, never
    the other way (a library function that needs a command's work gets it from a library module)."""
    def is_cli(m: str) -> bool:
        return m == "harness.cli" or m.startswith(("harness.cli.", "orca.cli_"))

    found = [f"{m} imports {t}" for m, targets in _tree_graph().items() if not is_cli(m)
             for t in sorted(targets) if is_cli(t)]
    assert found == []


def test_the_cycle_check_sees_importlib_and_files_loaded_by_path(tmp_path, monkeypatch):
    # a cycle made only of an import_module call and of a file exec'd by path must be found
    pkg = tmp_path / "harness"
    (pkg / "tasks").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    import importlib\n    return importlib.import_module('harness.b')\n")
    (pkg / "b.py").write_text("import importlib.util\ndef g(p):\n    importlib.util.spec_from_file_location('x', p)\n")
    (pkg / "tasks" / "utils.py").write_text("from harness import a\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setitem(FILE_LOADERS, "harness.b", "harness/tasks/utils.py")
    graph = _graph(sorted(pkg.rglob("*.py")))
    assert graph["harness.a"] == {"harness.b"} and graph["harness.b"] == {"harness.tasks.utils"}
    assert _cycles(graph) == [{"harness.a", "harness.b", "harness.tasks.utils"}]
