"""Evaluation harness: suites, runner, answer extraction, compare, report, CLI."""
import orca  # noqa: F401  -- sets OMP_WAIT_POLICY before torch loads (orca/__init__.py): the harness sits on orca
