"""Helpers shared by several test modules (imported as `from helpers import ...`: pytest
puts tests/ on sys.path). Test modules import from here, never from each other."""
from __future__ import annotations


def error_line(capsys) -> str:
    """What a command printed on stderr when it failed as every orca-eval command must:
    one line, "orca-eval: error: ...", no traceback. Returned without its line break."""
    err = capsys.readouterr().err
    assert err.startswith("orca-eval: error: ") and err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    return err.strip()


def one_line_error(capsys, argv, rc: int = 2) -> str:
    """Run `orca-eval ARGV` in-process; it must exit `rc` with one error line (returned)."""
    from harness.cli import main

    assert main([str(a) for a in argv]) == rc
    return error_line(capsys)
