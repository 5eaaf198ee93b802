"""The README's and docs' commands work as written in a new shell after the README's two
set-up commands: the README says how to use the virtual environment, and no command
relies on a bare `python` (absent where only python3 is installed) or a bare `pip`
(the system's, or none)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("results/**/README*.md"),
               *ROOT.glob("bench/*.py"), *ROOT.glob("bench/*.sh")])
# `python` or `pip` as a command: not part of a path (`.venv/bin/python`) or a longer name
# (`python3`), followed by an option, `install` or a script.
BARE = re.compile(r"(?<![\w/.\-])(python|pip) (?=-|install|[\w./]+\.py)")


def _setup_section(readme: str) -> str:
    return readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]


def test_readme_says_how_to_use_the_virtual_environment():
    setup = _setup_section((ROOT / "README.md").read_text())
    assert "source .venv/bin/activate" in setup


def test_readme_keeps_exactly_two_set_up_commands():
    setup = _setup_section((ROOT / "README.md").read_text())
    blocks = re.findall(r"```bash\n(.*?)```", setup, re.S)
    assert [b.count("\n") for b in blocks] == [1, 1]
    assert all(b.startswith("python3 -m venv .venv && ") for b in blocks)


def test_no_command_uses_a_bare_python_or_pip():
    found = []
    for path in DOCS:
        for m in BARE.finditer(path.read_text()):
            line = path.read_text()[: m.start()].count("\n") + 1
            found.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0).strip()}")
    assert found == []
