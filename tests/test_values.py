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
    for bad in ("foo", "cuda:", "gpu", "cuda:x", "CPU "):
        with pytest.raises(UserError, match="--device must be cpu, cuda, cuda:N or mps"):
            check_device(bad)
