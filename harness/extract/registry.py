"""The registry of answer families and the entry points that dispatch on a family's name.

A family module (multiple_choice.py, labels.py, ...) calls `register(name, Family(...))`; a new
family is a new module imported by harness/extract/__init__.py, and no code here changes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from orca.errors import UserError
from harness.extract.commitment import analysed
from harness.extract.options import Options


@dataclass(frozen=True)
class Family:
    """How one answer family is extracted and compared."""

    robust: Callable[[str, Options], str | None]
    official: Callable[[str, Options], str | None]
    normalize: Callable[[str], str]
    description: str


# Family name -> Family, filled by each family's module as it is imported (harness/extract/__init__.py
# imports them in this order: mc, true_false, yes_no, valid_invalid, number, dyck, word_list, exact).
FAMILIES: dict[str, Family] = {}


def register(name: str, family: Family) -> Family:
    """Add an answer family under `name` (a task YAML's `metadata.family`)."""
    if name in FAMILIES:
        raise ValueError(f"answer family {name!r} is registered twice")
    FAMILIES[name] = family
    return family


def _family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise UserError(f"unknown answer family {name!r}; known: {', '.join(FAMILIES)}") from None


def extract_answer(text: str, family: str, options: Options = None) -> str | None:
    """Robust extraction (ours): the answer in the family's normal form, or None if the
    output states no single answer (empty, refusal, hedge, garbage, a repetition loop). Reads
    at most the first sentence and the last ANALYSED_TAIL characters of a long output."""
    return _family(family).robust(analysed(text or ""), options)


def extract_official(text: str, family: str, options: Options = None) -> str | None:
    """The paper's rule: first capital letter A-F for letter tasks; first match of the
    family's answer pattern otherwise (lm-eval BBH flexible-extract)."""
    return _family(family).official(text or "", options)


def normalize_target(target: str, family: str) -> str:
    """A gold answer (or an extracted one) in the family's normal form: "(B)" -> "B",
    "yes" -> "Yes", "-42.0" -> "-42", "])" -> "] )", "Apple  Pear" -> "apple pear"."""
    return _family(family).normalize(str(target))


def is_correct(extracted: str | None, target: str, family: str) -> bool:
    """Whether an extracted answer matches the gold target after normalisation."""
    if extracted is None:
        return False
    fam = _family(family)
    return fam.normalize(str(extracted)) == fam.normalize(str(target))
