"""The one place where figures are rounded.

Result files (summary.json, compare's JSON) keep full precision; every view of them, the
table `run` and `score` print, `report` (terminal, Markdown, HTML) and `compare`, turns a
number into text here. Rounding once, from the same full-precision value, is what makes
one run show one average everywhere (rounding a rounded average again gave "23.9" in one
view and "23.8" in the other). Half up, as the paper prints its tables (42.8625 -> 42.9);
Python's own format rounds the binary value half to even.
"""
from __future__ import annotations

import math


def round_half_up(value: float, digits: int = 1) -> float:
    """Round as papers print (42.8625 -> 42.9), not banker's rounding."""
    q = 10 ** digits
    return math.floor(value * q + 0.5 + 1e-9) / q


def pct(value: float | None, digits: int = 1, sign: bool = False, none: str = "—") -> str:
    """A percentage or a difference in points as displayed: `digits` decimals, half up;
    `sign` puts + before positive values (deltas); `none` stands for a missing value."""
    if value is None:
        return none
    rounded = round_half_up(abs(value), digits)
    text = f"{rounded:.{digits}f}"
    if value < 0 and rounded != 0:
        return "-" + text
    return ("+" if sign else "") + text
