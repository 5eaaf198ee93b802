"""orca.errors.run_entry_point: the one `orca-eval: error:` handler of the entry points beside
`orca-eval` (python -m harness.gate, -m harness.ci_regression, -m harness.publish, -m orca.train)."""
from __future__ import annotations

import pytest

from orca.errors import UserError, run_entry_point


class _Found(UserError):
    exit_code = 1


def test_a_user_error_is_one_line_and_its_exit_code(capsys):
    def fail():
        raise UserError("runs/x: run directory not found")

    assert run_entry_point(fail) == 2
    assert capsys.readouterr() == ("", "orca-eval: error: runs/x: run directory not found\n")
    assert run_entry_point(lambda: (_ for _ in ()).throw(_Found("gate failed"))) == 1
    assert capsys.readouterr().err == "orca-eval: error: gate failed\n"


def test_the_body_s_exit_code_passes_through(capsys):
    assert run_entry_point(lambda: None) == 0
    assert run_entry_point(lambda: 0) == 0
    assert run_entry_point(lambda: 3) == 3
    assert capsys.readouterr() == ("", "")


def test_other_exceptions_keep_their_traceback():
    with pytest.raises(ZeroDivisionError):
        run_entry_point(lambda: 1 / 0)


def test_orca_train_main_prints_the_line(tmp_path, capsys):
    from orca.train import main

    assert main([str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("orca-eval: error: ") and err.count("\n") == 1, err
