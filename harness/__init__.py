"""Evaluation harness: suites, runner, answer extraction, compare, report, CLI."""
