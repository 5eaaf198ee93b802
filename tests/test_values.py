"""orca.values: check_number (finite, the right type, in range) and check_device, which every
numeric setting, flag and config field goes through (their users: tests/test_run_flags.py,
tests/test_collect.py, tests/test_train.py, ...)."""
from __future__ import annotations

import pytest

from orca.errors import UserError
from orca.values import check_device, check_number


@pytest.mark.parametrize("value, kwargs, message", [
    (float("nan"), {}, "must be a finite number, got nan"),
    (float("inf"), {"low": 0}, "must be a finite number, got inf"),
    (float("-inf"), {"high": 0}, "must be a finite number, got -inf"),
    (True, {}, "must be a number, got True"),
    (True, {"integer": True}, "must be an integer, got True"),
    (1.5, {"integer": True}, "must be an integer, got 1.5"),
    ("3", {}, "must be a number, got '3'"),
    (None, {}, "must be a number, got None"),
    (-1, {"low": 0}, "must be >= 0, got -1"),
    (0, {"low": 0, "low_open": True}, "must be > 0, got 0"),
    (5, {"low": 0, "high": 1}, "must be >= 0 and <= 1, got 5"),
    (10 ** 400, {"integer": True, "high": 10}, "must be <= 10"),
])
def test_check_number_refuses(value, kwargs, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_number(value, "X", **kwargs)


def test_check_number_accepts_edges():
    assert check_number(0, "X", low=0) == 0
    assert check_number(1.0, "X", low=0, high=1) == 1.0
    assert check_number(None, "X", none_ok=True) is None
    assert check_device("cuda:1") == "cuda:1" and check_device(None) is None
    for bad in ("foo", "cuda:", "gpu", "cuda:x", "CPU ", "cuda\n"):
        with pytest.raises(UserError, match="--device must be cpu, cuda, cuda:N or mps"):
            check_device(bad)


def test_check_device_here_asks_this_machine(monkeypatch):
    """`here`: the form, then whether this machine has the device (torch's answer, faked)."""
    import torch

    assert check_device("cpu", here=True) == "cpu" and check_device(None, here=True) is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError) as e:
        check_device("cuda", here=True)
    assert str(e.value) == f"--device cuda: no CUDA GPU is available here (torch {torch.__version__}); use --device cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert check_device("cuda:1", here=True) == "cuda:1"
    with pytest.raises(UserError) as e:
        check_device("cuda:2", here=True)
    assert str(e.value) == "--device cuda:2: this machine has 2 CUDA device(s) (cuda:0..cuda:1)"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(UserError) as e:
        check_device("mps", here=True)
    assert str(e.value) == "--device mps: Apple MPS is not available here; use --device cpu"
    with pytest.raises(UserError, match="--device must be cpu"):
        check_device("gpu", here=True)  # the form first, without asking torch
