"""Which floating-point type a local model runs in (`--dtype`), decided before it loads.

`auto` (the default) is bfloat16 where the device multiplies bfloat16 natively -- a CUDA
GPU that supports it, or a CPU with bfloat16 matrix instructions (x86 AMX-BF16 or
AVX512-BF16, Arm BF16) -- and float32 elsewhere. Measured with SmolLM2-135M on the
project's machines: a bf16 forward is 3.45x a float32 one on an AMX-BF16 Xeon, and about
2x on an AVX512-BF16 EPYC (bench/eval_throughput.py prints both rooflines); without
such units torch emulates bfloat16 and it is slower than float32.

Not `auto` the way lm-eval means it (the checkpoint's stored dtype): a checkpoint saved in
float32, as converted GGUF files and the default model are, would then always run at the
slowest rate.
"""
from __future__ import annotations

import platform
import sys
from functools import lru_cache
from pathlib import Path

from orca.errors import UserError

DTYPES = ("auto", "bfloat16", "float16", "float32")


@lru_cache(maxsize=1)
def cpu_bf16_units() -> tuple[str, ...]:
    """The CPU's bfloat16 matrix instruction sets, by the kernel's flag names ('' if none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    if not text and platform.system() == "Darwin" and platform.machine() == "arm64":
        flags.add("bf16")  # Apple M2 and later; torch runs bf16 on M1 too (emulated)
    return tuple(f for f in ("amx_bf16", "avx512_bf16", "bf16") if f in flags)


def _cuda_bf16(device: str) -> bool:
    import torch

    return torch.cuda.is_bf16_supported()


def resolve_dtype(requested: str | None, device: str, *, warn=None) -> str:
    """The dtype name to load the model in on `device` ("cpu", "cuda", "cuda:1", "mps").

    A dtype the device cannot run is a UserError (one line, exit 2); one it runs slowly
    (bfloat16 or float16 on a CPU without matrix units for it) runs, with a one-line note."""
    warn = warn or (lambda msg: print(f"orca-eval: note: {msg}", file=sys.stderr))
    kind = device.split(":")[0]
    requested = requested or "auto"
    if requested not in DTYPES:
        raise UserError(f"--dtype {requested!r}: choose from {', '.join(DTYPES)}")
    if requested == "auto":
        if kind == "cuda":
            return "bfloat16" if _cuda_bf16(device) else "float32"
        if kind == "cpu":
            return "bfloat16" if cpu_bf16_units() else "float32"
        return "float32"
    if kind == "cuda" and requested == "bfloat16" and not _cuda_bf16(device):
        raise UserError(f"--dtype bfloat16: the GPU {device} does not support bfloat16; use --dtype float16 "
                        "or float32")
    if kind == "cpu" and requested == "bfloat16" and not cpu_bf16_units():
        warn("--dtype bfloat16 on a CPU without bfloat16 matrix units (AMX-BF16, AVX512-BF16): "
             "torch emulates it, slower than float32")
    if kind == "cpu" and requested == "float16":
        warn("--dtype float16 on a CPU: no float16 matrix units are used, slower than float32 "
             "(bfloat16 is the fast half precision here" + ("" if cpu_bf16_units() else " where the CPU has it") + ")")
    return requested
