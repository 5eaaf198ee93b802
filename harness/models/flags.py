"""Checks of the local-model flags (--device, --dtype, --max-length) before a model loads.

lm-eval's HFLM takes them as given and fails deep inside torch (an AssertionError for
CUDA on a machine without it, an AttributeError for an unknown dtype, an assertion at the
first batch for a context length below the generation budget): checked here, they are
one line naming the flag.
"""
from __future__ import annotations

import re

from orca.errors import UserError
from orca.values import check_device as orca_check_device

from harness.models.precision import DTYPES


def check_backend_flags(device: str | None, dtype: str | None, max_length: int | None,
                        max_new_tokens: int | None = None, generate: bool = True) -> None:
    if device is not None:
        check_device(device)
    if dtype is not None and dtype not in DTYPES:
        raise UserError(f"--dtype {dtype!r}: choose from {', '.join(DTYPES)}")
    # Range and format of the numbers: orca.values (RunConfig.check_values) -- here what needs the machine.
    if max_length is not None:
        if generate and max_new_tokens is not None and max_length <= max_new_tokens:
            raise UserError(f"--max-length {max_length} leaves no room for the prompt: it must exceed "
                            f"--max-new-tokens ({max_new_tokens})")


def check_device(device: str) -> None:
    """cpu, mps, cuda or cuda:N (the form: orca.values.check_device), and only a CUDA device that this machine has."""
    orca_check_device(device)
    m = re.fullmatch(r"(cpu|mps|cuda)(?::(\d+))?", device)
    if m.group(1) == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UserError(f"--device {device}: no CUDA GPU is available here "
                            f"(torch {torch.__version__}); use --device cpu")
        index, count = int(m.group(2) or 0), torch.cuda.device_count()
        if index >= count:
            raise UserError(f"--device {device}: this machine has {count} CUDA device(s) (cuda:0..cuda:{count - 1})")
    elif m.group(1) == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise UserError(f"--device {device}: Apple MPS is not available here; use --device cpu")
