"""One check for every numeric setting, whether it comes from a flag or a config field.

`float("nan")`, `float("inf")` and YAML's `.nan` parse fine and then slip past range
checks written as `if x < 0` (every comparison with nan is False). `check_number`
rejects non-finite values, booleans (`true` is an int in Python) and anything outside
the given range, and says which setting, what it must be, and what it got -- before
the setting reaches a cache, a run directory or a paid API.

    check_number(args.temperature, "--temperature", low=0)
    check_number(stage["warmup_ratio"], f"{where}: field 'warmup_ratio'", low=0, high=1)

Kept in orca/, the lower layer (harness/ imports orca/, never the reverse), so that
harness/ and orca/ share it; its errors are orca.errors' UserError, like every other
check of a user's input.
"""
from __future__ import annotations

import math
import re

from orca.errors import UserError

# fullmatch: "cuda\n" passed a `$` here and then failed the second parse with a traceback
DEVICE_RE = re.compile(r"(cpu|mps|cuda)(?::(\d+))?")


def check_number(value, name: str, *, integer: bool = False, low: float | None = None,
                 high: float | None = None, low_open: bool = False, high_open: bool = False,
                 none_ok: bool = False):
    """Return `value` if it is a finite number (an int when `integer`) in the range
    low..high (bounds excluded when *_open); else raise UserError naming `name`."""
    if value is None and none_ok:
        return value
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise UserError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{name} must be a finite number, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high:g}")
        raise UserError(f"{name} must be {' and '.join(bounds)}, got {value!r}")
    return value


def check_device(value: str | None, name: str = "--device", *, here: bool = False) -> str | None:
    """A torch device string we can honour: cpu, cuda, cuda:N or mps (None: the default); with
    `here`, also one this machine has (lm-eval's HFLM takes it as given and fails deep inside
    torch). torch is imported only for that question, and only for cuda and mps."""
    m = DEVICE_RE.fullmatch(value) if isinstance(value, str) else None
    if value is not None and m is None:
        raise UserError(f"{name} must be cpu, cuda, cuda:N or mps, got {value!r}")
    if not here or m is None or m.group(1) == "cpu":
        return value
    import torch

    if m.group(1) == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"{name} {value}: no CUDA GPU is available here "
                            f"(torch {torch.__version__}); use {name} cpu")
        index, count = int(m.group(2) or 0), torch.cuda.device_count()
        if index >= count:
            raise UserError(f"{name} {value}: this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1})")
    elif not torch.backends.mps.is_available():
        raise UserError(f"{name} {value}: Apple MPS is not available here; use {name} cpu")
    return value


SEED_MAX = 2 ** 63 - 1


def check_seed(value, name: str = "--seed") -> int:
    """A seed every generator we hand it to takes: numpy's SeedSequence refuses negative
    ones, torch's manual_seed anything beyond 64 bits (both with a traceback)."""
    check_number(value, name, integer=True)
    if not 0 <= value <= SEED_MAX:
        raise UserError(f"{name} must be an integer from 0 to 2**63-1, got {value}")
    return value
