"""The `exact` answer family, the fallback for a task without a family of its own: the answer
text itself, normalised (case-folded, single-spaced, without surrounding punctuation)."""
from __future__ import annotations

from harness.extract.cues import ANSWER_CUE, REFUSAL
from harness.extract.options import Options
from harness.extract.registry import Family, register
from harness.extract.text import BOLD, clause, lower, norm_text, prepare


def _exact_robust(text: str, options: Options = None) -> str | None:
    t = BOLD.sub("", prepare(text))
    if not t:
        return None
    low = lower(t)
    cues = ANSWER_CUE.finditer(t, low)
    answer = clause(t, cues[-1].end()) if cues else (None if REFUSAL.search(t, low) else t)
    return norm_text(answer) or None if answer else None


def _exact_official(text: str, options: Options = None) -> str | None:
    return norm_text(text or "") or None


register("exact", Family(_exact_robust, _exact_official, norm_text, "the answer text itself"))
