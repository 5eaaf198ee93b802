"""The regression gate's thresholds (CompareThresholds), declared once: `orca-eval compare`'s
--alpha and --min-delta (`add_threshold_arguments`), compare_runs' defaults and checks, and a
pipeline's `compare` section (harness/pipeline/config.py) take them from its fields."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, fields

from orca.options import add_arguments, declared

from orca.values import check_number

# the multiplicity corrections compare offers (harness/compare/stats.py applies them); here,
# without scipy, so `orca-eval --help` does not load it
CORRECTIONS = ("holm", "bh")


def option(default: float, flag: str, help: str, *, yaml, range: dict):
    """A CompareThresholds field and its `compare` option: `flag` with `help`; `yaml`: the types
    its value may have in a pipeline's compare section; `range`: its check (check_number keywords)."""
    return declared(default, flag, help, {"type": float}, yaml=yaml, range=range)


@dataclass
class CompareThresholds:
    # Field order is the order of the options in `compare --help`, and of the checks.
    alpha: float = option(0.05, "--alpha", "significance level after correction (default 0.05)", yaml=float,
                          range=dict(low=0, high=1, low_open=True, high_open=True))
    # nan would make the gate unable to fail
    min_delta: float = option(1.0, "--min-delta", "smallest change in accuracy points that counts (default 1.0)",
                              yaml=(int, float), range=dict(low=0))

    def check(self, where: str | None = None) -> None:
        """Refuse an out-of-range threshold, named by its option, or as field 'NAME' of `where`."""
        for f in fields(self):
            name = f.metadata["flag"] if where is None else f"{where}: field {f.name!r}"
            check_number(getattr(self, f.name), name, **f.metadata["range"])


def compare_fields() -> dict:
    """The fields a pipeline's compare section may set, and the YAML types of each."""
    return {f.name: f.metadata["yaml"] for f in fields(CompareThresholds)}


def add_threshold_arguments(parser: argparse.ArgumentParser) -> None:
    """--alpha and --min-delta, one per CompareThresholds field (the value lands under the field's name)."""
    add_arguments(parser, CompareThresholds)
