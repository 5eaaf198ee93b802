"""bench/gate_power.py's per-seed noise search (`--target-drop`): where it tries next.

The search runs full-BBH evaluations (20 minutes a try here), so its choice of the next noise level
is what decides the cost; these tests hold it to a drop that grows as a power of the noise, the shape
measured for seed 0 (6.37 points at noise 0.05, 11.15 at 0.07)."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.gate_power import first_noise, next_noise  # noqa: E402


def power_law(k: float, c: float):
    return lambda noise: c * noise ** k


def test_a_bracket_on_a_power_law_lands_on_the_target():
    drop = power_law(1.66, 6.37 / 0.05 ** 1.66)
    history = [(0.04, drop(0.04)), (0.07, drop(0.07))]  # 4.3 and 11.2: the target 5 lies between
    n = next_noise(history, 5.0)
    assert 0.04 < n < 0.07
    assert drop(n) == pytest.approx(5.0, abs=0.05)


def test_one_side_steps_by_the_measured_exponent_and_at_most_2x():
    n = next_noise([(0.05, 6.37)], 5.0)  # past the target: step down
    assert n == pytest.approx(0.05 * (5 / 6.37) ** (1 / 1.66), abs=1e-4)
    assert next_noise([(0.05, 0.1)], 5.0) == 0.1   # nearly no damage: double, not 10x
    assert next_noise([(0.05, 80.0)], 5.0) == 0.025  # far past: halve
    # two tries short: their own exponent (1.3 here, not 1.66), up to 3x
    two = [(0.1, 0.55), (0.2, 0.55 * 2 ** 1.3)]
    assert next_noise(two, 5.0) == pytest.approx(0.2 * (5 / two[1][1]) ** (1 / 1.3), abs=1e-4)


def test_the_search_never_repeats_a_try_and_stays_in_the_bracket_when_the_drop_is_not_monotone():
    # a larger noise fell short and a smaller one went past (seeds are noisy): step below the
    # smallest try that went past instead of interpolating across the wrong order
    history = [(0.06, 6.0), (0.08, 3.0)]
    n = next_noise(history, 5.0)
    assert n not in {h[0] for h in history} and n < 0.06
    # a flat bracket (0 drop below) falls back to the geometric middle, inside the margins
    n = next_noise([(0.03, 0.0), (0.09, 9.0)], 5.0)
    assert 0.036 <= n <= 0.084 and n == pytest.approx(math.sqrt(0.03 * 0.09), abs=1e-4)


@pytest.mark.parametrize("k", [1.3, 1.66, 2.2])
def test_from_the_first_try_a_power_law_seed_is_in_band_within_three_tries(k):
    for subset_drop in (0.4, 1.8, 5.2, 10.8):  # the spread of gate-subset drops 10 seeds had at 0.05
        full = power_law(k, 0.56 * subset_drop / 0.05 ** k)  # the seed's true full-BBH drop
        tries = []
        noise = first_noise(subset_drop, 0.05, 5.0)
        for _ in range(3):
            tries.append((noise, full(noise)))
            if abs(tries[-1][1] - 5.0) <= 1.0:
                break
            noise = next_noise(tries, 5.0)
        assert abs(tries[-1][1] - 5.0) <= 1.0, (k, subset_drop, tries)


def test_no_history_is_a_programming_error():
    with pytest.raises(ValueError):
        next_noise([], 5.0)
