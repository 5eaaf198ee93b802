"""The `exact` answer family, the fallback for a task without a family of its own: the answer
text itself, normalised (case-folded, single-spaced, without surrounding punctuation)."""
from __future__ import annotations

from harness.extract.cues import _ANSWER_CUE, _REFUSAL
from harness.extract.options import Options
from harness.extract.registry import Family, register
from harness.extract.text import _BOLD, _clause, _lower, _norm_text, _prepare


def _exact_robust(text: str, options: Options = None) -> str | None:
    t = _BOLD.sub("", _prepare(text))
    if not t:
        return None
    low = _lower(t)
    cues = _ANSWER_CUE.finditer(t, low)
    answer = _clause(t, cues[-1].end()) if cues else (None if _REFUSAL.search(t, low) else t)
    return _norm_text(answer) or None if answer else None


def _exact_official(text: str, options: Options = None) -> str | None:
    return _norm_text(text or "") or None


register("exact", Family(_exact_robust, _exact_official, _norm_text, "the answer text itself"))
