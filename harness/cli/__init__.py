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

from orca.errors import EXIT_USAGE, StdoutError, UserError, user_message_for

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
        print(f"orca-eval: error: {command + ': ' if command else ''}{message} (see {self.prog} --help)",
              file=sys.stderr)
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


def _quiet_libraries() -> None:
    """Library chatter (weight-loading bars, accelerator notices) would bury our own
    progress and turn a one-line error into a screenful.

    Nothing heavy is imported here: `--help`, `tasks` and `system-messages` must start in
    well under a second, and torch + transformers alone take several under load. The
    environment variables cover transformers' verbosity and progress bars (it reads them
    when it is first imported); the accelerator check waits for deepspeed's import."""
    import logging

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if "DS_ACCELERATOR" not in os.environ and not any(isinstance(f, _DeepSpeedAccelerator) for f in sys.meta_path):
        sys.meta_path.insert(0, _DeepSpeedAccelerator())
    for name in ("transformers", "datasets", "lm_eval", "lm-eval", "DeepSpeed", "accelerate", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "transformers" in sys.modules:  # imported already (by a caller of main()): env vars are read too late
        from transformers.utils import logging as tlog
        tlog.disable_progress_bar()
        tlog.set_verbosity_error()


class _DeepSpeedAccelerator:
    """An import hook that names the CPU accelerator just before deepspeed is first
    imported (accelerate imports it whenever installed), on a machine without a GPU:
    deepspeed warns on every start otherwise, and DS_ACCELERATOR is the documented way to
    say so. Asking torch for a GPU only then keeps torch out of commands that never load it."""

    def find_spec(self, name, path=None, target=None):
        if name == "deepspeed":
            sys.meta_path.remove(self)
            if "DS_ACCELERATOR" not in os.environ:
                import torch
                if not torch.cuda.is_available():
                    os.environ["DS_ACCELERATOR"] = "cpu"
        return None  # the normal finders import it


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
    _quiet_libraries()
    parser = build_parser()
    args = parser.parse_args(argv)
    from rich.console import Console

    stdout, on_broken_pipe = sys.stdout, Console.on_broken_pipe
    sys.stdout, Console.on_broken_pipe = _GuardedStdout(stdout), _broken_pipe
    try:
        rc = args.func(args)
        sys.stdout.flush()  # a full disk or closed pipe under stdout shows here, not after exit 0
    except UserError as e:
        print(f"orca-eval: error: {e}", file=sys.stderr)
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
        print(f"orca-eval: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        sys.stdout, Console.on_broken_pipe = stdout, on_broken_pipe
    return int(rc or 0)
