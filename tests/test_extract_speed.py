"""Extraction time is linear in the output's length and bounded on huge outputs (issue 11).

CPU time (time.process_time), best of a few repeats: the CI machine is shared. The margins are
generous: the quadratic code this guards against took 15 times longer per KB at 12 KB than at
3 KB on "No No No ...", and minutes on 15 MB."""
from __future__ import annotations

import time

import pytest

from harness.extract import FAMILIES, extract_answer
from harness.extract.commitment import ANALYSED_TAIL

SHAPES = ["No ", "= not False and True and False ", "the answer is ", "So (A) ", "[ ( "]


def _cpu(text: str, family: str, repeats: int) -> float:
    best = float("inf")
    for r in range(repeats):
        t = text[: len(text) - r]  # a new string each time: no cache answers
        t0 = time.process_time()
        extract_answer(t, family)
        best = min(best, time.process_time() - t0)
    return best


@pytest.mark.parametrize("unit", SHAPES)
def test_time_per_kb_does_not_grow_with_length(unit):
    for family in FAMILIES:
        small = _cpu((unit * 2000)[:2_048], family, 7) / 2
        large = _cpu((unit * 20000)[:16_384], family, 3) / 16
        assert large < 3 * small + 20e-6, (family, unit, small, large)


def test_fifteen_megabytes_extract_in_under_a_second():
    huge = "No " * 5_000_000
    for family in FAMILIES:
        assert _cpu(huge, family, 1) < 1.0, family


def test_a_long_output_keeps_its_first_sentence_and_its_end():
    middle = "Let us think about the order of the birds once more and compare them. " * 2_000
    assert len(middle) > 2 * ANALYSED_TAIL
    assert extract_answer(middle + "So the answer is (C).", "mc") == "C"
    assert extract_answer("(B) is the answer.\n" + middle, "mc") == "B"
    assert extract_answer("No, it is not plausible.\n" + middle, "yes_no") == "No"
    # a label in the middle of a long output, which no rule may credit, is not read at all
    assert extract_answer(middle + "The answer is Yes. " + middle, "yes_no") is None
