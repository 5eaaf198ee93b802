"""Answer extraction from free-form model output, per task family.

Two extractors per family, both reached through the `FAMILIES` registry:

- robust   (`extract_answer`): ours, the headline number. Looks for a stated final
           answer first ("the answer is (C)", "Answer: B", "\\boxed{B}"), then for an
           answer given up front ("(B) ...", "No, ..."), then for a conclusion
           ("Therefore, ..."), and only then for a single unambiguous mention. Hedges
           ("either A or B"), refusals and garbage give None (counted as unparsed).
- official (`extract_official`): the rule of the Orca paper and AGIEval for letter
           tasks (the first capital letter A-F of the response); for the other
           families the first match of the family's answer pattern, as lm-eval's
           BBH zero-shot "flexible-extract" filter does.

Both return the family's normal form (see `normalize_target`), so `is_correct`
compares like with like. docs/extraction.md states each family's rule.

Layout: one module per answer family, each registering itself in `registry.FAMILIES`:
multiple_choice.py (`mc`), labels.py (`true_false`, `yes_no`, `valid_invalid`),
numbers.py (`number`), dyck.py, word_list.py, exact.py (the fallback). Shared by all:
text.py (clean-up, sentences), cues.py (answer, conclusion and refusal phrases),
commitment.py (what is read, repetition loops, when a mention counts). options.py reads
a question's lettered options. Which family a task uses is its tasks/ YAML's business
(harness/suites/: a `Task`'s `family`).
"""
from __future__ import annotations

from harness.extract.registry import FAMILIES, Family, extract_answer, extract_official, is_correct, normalize_target
from harness.extract import multiple_choice, labels, numbers, dyck, word_list, exact
from harness.extract.options import options_from_agieval, options_from_text

# Importing a family's module registers it; this order is the order of FAMILIES (and of the
# "known: ..." list in an unknown-family error).
FAMILY_MODULES = (multiple_choice, labels, numbers, dyck, word_list, exact)

__all__ = [
    "FAMILIES", "Family", "extract_answer", "extract_official", "is_correct", "normalize_target",
    "options_from_agieval", "options_from_text",
]
