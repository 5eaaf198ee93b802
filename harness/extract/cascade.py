"""The robust rule's cascade for the families that look for a stated answer first (`mc`,
labels.py's three): named steps tried in an order of precedence, written here as data so the
families' difference is visible in one place. A step either decides -- an answer, or None:
the output states no single answer -- or passes (`NEXT`), and the next step is tried.

The steps (each family's module defines its own, under these names):
- stated:      a stated answer, "the answer is (B)", "B is correct", "Answer: No"; the last wins.
- choice:      (mc) weaker explicit choices: "I would choose B", "**B**", and a conclusion "So A.".
- refusal:     a refusal ("I cannot answer"), a hedge ("either A or B", "True or False"): None.
- first:       the answer given first: "(B) The specialist ...", "No, the sentence ...".
- conclusion:  (labels) "Therefore, the argument is invalid."
- marked:      (mc) exactly one option marked in the whole output, "I believe (C) fits best."
- option_text: (mc) an option's text without its letter.
- bare:        (labels) bare statements, "the sentence is plausible", in the first or last sentence.
"""
from __future__ import annotations

from typing import Callable

NEXT = object()  # a step's "not decided here"

# Why the orders differ (each order is fixed by tests/test_extract_gold.py and
# test_extract_real.py; changing one changes extracted answers):
# - mc reads a conclusion ("So A.", "Therefore, (C).") together with its other weak choices,
#   *before* the answer given first: in an mc output, what it ends on outweighs a letter at
#   its start (outputs that walk through the options: "(A) is wrong because ..."). Labels
#   read the answer given first ("No, the sentence ...") *before* a conclusion: their
#   reasoning is full of conclusions about other things ("so Alexis lies and Elanor tells
#   the truth"), so a conclusion is read only when the output does not lead with its label.
# - mc checks for a refusal or an "either A or B" only after its weak choices, so an explicit
#   choice outweighs such a phrase elsewhere in the output; labels check right after a stated
#   answer, and call it a refusal only when no label is stated at all (a hedge, "True or
#   False", anywhere in the output makes it unparsed).
PRECEDENCE: dict[str, tuple[str, ...]] = {
    "mc": ("stated", "choice", "refusal", "first", "marked", "option_text"),
    "labels": ("stated", "refusal", "first", "conclusion", "bare"),
}


def run_cascade(order: str, steps: object) -> str | None:
    """Try `steps`'s methods named in PRECEDENCE[order], in that order; the first decision wins."""
    for name in PRECEDENCE[order]:
        step: Callable[[], object] = getattr(steps, name)
        out = step()
        if out is not NEXT:
            return out
    return None
