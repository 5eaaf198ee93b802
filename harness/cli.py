"""`orca-eval`: a thin command-line layer over functions that tests call directly.

Each command lives in its own module with a `register(subparsers)` function that
adds its parser and sets `func`; this file only wires them together.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from harness.errors import UserError

COMMAND_MODULES = [
    "harness.cli_run",        # run, score, system-messages, tasks
    "harness.cli_report",     # report
    "harness.cli_compare",    # compare
    "harness.cli_models",     # models
    "orca.cli_data",          # data sample, data collect, data lengths
    "orca.cli_train",         # train, pipeline
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    progress and turn a one-line error into a screenful."""
    import logging
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if "DS_ACCELERATOR" not in os.environ:
        # deepspeed (imported by accelerate whenever installed) warns on every start of a
        # machine without a GPU; naming the CPU accelerator is the documented way to say so.
        import torch
        if not torch.cuda.is_available():
            os.environ["DS_ACCELERATOR"] = "cpu"
    for name in ("transformers", "datasets", "lm_eval", "lm-eval", "DeepSpeed", "accelerate", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as tlog
        tlog.disable_progress_bar()
        tlog.set_verbosity_error()
    except ImportError:
        pass


def main(argv: list[str] | None = None) -> int:
    _quiet_libraries()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except UserError as e:
        print(f"orca-eval: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("orca-eval: interrupted (finished work is saved; run the same command again to resume)",
              file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
