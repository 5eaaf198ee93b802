"""`--help` of every command: each option says what it does and, when it has one, its
default (`run --batch-size` showed neither); `run --help` describes the default model as
it is (trained on first use, not "a tiny random LLaMA")."""
from __future__ import annotations

import argparse

from harness.cli import build_parser


def _options():
    def walk(parser, name):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    yield from walk(sub, f"{name} {sub_name}")
            elif action.option_strings and not isinstance(action, argparse._HelpAction):
                yield name, parser, action
    yield from walk(build_parser(), "orca-eval")


def test_every_option_has_help_and_shows_its_default():
    missing, no_default = [], []
    for name, parser, action in _options():
        flag = f"{name} {action.option_strings[-1]}"
        if not action.help:
            missing.append(flag)
            continue
        shown = parser._get_formatter()._expand_help(action)  # the help line as --help prints it
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in shown:
            no_default.append(flag)
    assert missing == [] and no_default == []


def test_run_help_names_the_batch_size_default_and_the_trained_default_model(capsys):
    try:
        build_parser().parse_args(["run", "--help"])
    except SystemExit:
        pass
    text = " ".join(capsys.readouterr().out.split("options:", 1)[1].split())
    assert "random" not in text
    assert "trained by orca-eval on first use" in text
    batch = text.split("--batch-size BATCH_SIZE", 1)[1].split("--max-new-tokens", 1)[0]
    assert "rows generated together" in batch and "(default: chosen from memory" in batch
