"""`orca-eval`: a thin command-line layer over functions that tests call directly.

Each command lives in its own module of this package (orca/'s in orca/cli_*.py) with a
`register(subparsers)` function that adds its parser and sets `func`; this file only wires
them together. Library code never imports this package (tests/test_layering.py).
"""
from __future__ import annotations

import argparse
import errno
import importlib
import importlib.util
import os
import sys

from orca.errors import EXIT_USAGE, StdoutError, UserError, print_error, user_message_for
from orca.quiet import quiet_libraries

COMMAND_MODULES = [
    "harness.cli.run",        # run, score, system-messages, tasks
    "harness.cli.report",     # report
    "harness.cli.compare",    # compare
    "harness.cli.models",     # models
    "orca.cli_data",          # data sample, data collect, data lengths
    "harness.cli.decontaminate",  # data decontaminate (after orca.cli_data: it joins that group)
    "orca.cli_train",         # train
    "harness.cli.pipeline",   # pipeline
]


class _ShowDefaults:
    """A help-formatter mixin: every option's default in its help line (`--batch-size` showed neither help nor
    default), unless the help already says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.default not in (None, False, argparse.SUPPRESS) and action.option_strings
                and "default" not in text and "%(default)" not in text):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line error (argparse prints the whole usage first)
    and every option's default in --help (sub-commands are made with this class too)."""

    def __init__(self, *args, **kwargs):
        base = kwargs.get("formatter_class", argparse.HelpFormatter)
        if not issubclass(base, _ShowDefaults):  # e.g. a command's RawDescriptionHelpFormatter
            kwargs["formatter_class"] = type(base.__name__, (_ShowDefaults, base), {})
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        command = self.prog.partition(" ")[2]
        print_error(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="orca-eval",
        description="Zero-shot AGIEval / BBH evaluation and explanation tuning (Orca, arXiv 2306.02707).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(sub)
    return parser


class _GuardedStdout:
    """sys.stdout for the length of a command: a failed write or flush becomes a
    StdoutError, so it is told apart from a failed write to a file (Python's write errors
    carry no file name). `stream` None: the process started with stdout closed (`>&-`),
    where print() would drop everything and the command exit 0 having written nothing."""

    def __init__(self, stream):
        self._stream = stream

    def _call(self, name, *args):
        if self._stream is None:
            raise StdoutError(errno.EBADF, "it is closed")
        try:
            return getattr(self._stream, name)(*args)
        except OSError as e:
            raise StdoutError(e.errno, e.strerror) from None

    # CPython's BufferedWriter loses an EPIPE that comes after part of one large write went
    # through (a reader such as `head -c 10` leaving while a 95 KB HTML page is written):
    # it returns, flush finds nothing left to write, and the command exits 0 having written
    # 64 KB. Pieces no larger than its buffer make each failed write raise.
    CHUNK = 8192

    def write(self, text):
        if len(text) <= self.CHUNK:
            return self._call("write", text)
        for i in range(0, len(text), self.CHUNK):
            self._call("write", text[i:i + self.CHUNK])
        return len(text)

    def flush(self):
        return self._call("flush")

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def __getattr__(self, name):
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


def _broken_pipe(console) -> None:
    # rich's default ends the process with a silent exit 1 (which here means "gate failed")
    raise StdoutError(errno.EPIPE, os.strerror(errno.EPIPE))


def _drop_stdout(stream) -> None:
    """Point stdout at /dev/null so Python's flush at exit does not fail a second time
    (with its own message and exit code 120)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    parser = build_parser()
    args = parser.parse_args(argv)
    from rich.console import Console

    stdout, on_broken_pipe = sys.stdout, Console.on_broken_pipe
    sys.stdout, Console.on_broken_pipe = _GuardedStdout(stdout), _broken_pipe
    try:
        rc = args.func(args)
        sys.stdout.flush()  # a full disk or closed pipe under stdout shows here, not after exit 0
    except UserError as e:
        print_error(e)
        return e.exit_code
    except KeyboardInterrupt:
        print("orca-eval: interrupted (finished work is saved; run the same command again to resume)",
              file=sys.stderr)
        return 130
    except (OSError, UnicodeDecodeError) as e:
        # Files that are not UTF-8, paths of the wrong kind, a full disk: the user's to fix,
        # from whichever reader or writer met them. Any other exception is a bug: traceback.
        message = user_message_for(e)
        if message is None or os.environ.get("ORCA_EVAL_TRACEBACK"):
            raise
        if isinstance(e, StdoutError):
            _drop_stdout(stdout)
        print_error(message)
        return EXIT_USAGE
    finally:
        sys.stdout, Console.on_broken_pipe = stdout, on_broken_pipe
    return int(rc or 0)
