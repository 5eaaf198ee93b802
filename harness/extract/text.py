"""Text clean-up shared by every answer family: unicode and \\boxed{} fixes, offset-keeping
lower-casing, sentences and clauses, and the normal form of a piece of answer text."""
from __future__ import annotations

import re

UNICODE_FIXES = str.maketrans({
    "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2212": "-", "\u2013": "-",
    "\u2014": "-", "\u00a0": " ", "\u200b": None, "\uff08": "(", "\uff09": ")", "\uff1a": ":",
})
# \boxed{X} is rewritten as a plain statement so every family's answer cue handles it.
_BOXED = re.compile(r"\\boxed\s*\{\s*(?:\\(?:text|mathrm|textbf)\s*\{)?([^{}]*?)\}?\s*\}")
BOLD = re.compile(r"\*\*|__")


def prepare(text: str | None) -> str:
    if not text:
        return ""
    t = text.translate(UNICODE_FIXES)
    if "boxed" in t:
        t = _BOXED.sub(lambda m: f" The answer is {m.group(1).strip()}. ", t)
    return t.strip()


def lower(t: str) -> str:
    """Lower-cased text with the same offsets as `t` (a few characters lower to two)."""
    low = t.lower()
    return low if len(low) == len(t) else "".join(c if len(c.lower()) != 1 else c.lower() for c in t)


SENTENCE_END = re.compile(r"(?<=[.!?])(?=\s|$)|\n")


def clause(text: str, start: int, limit: int = 160) -> str:
    """The sentence that begins at `start` (stops at a sentence end or line break)."""
    return text[start:clause_end(text, start, limit)].strip()


def clause_end(text: str, start: int, limit: int = 160) -> int:
    """Where the sentence that begins at `start` ends: at a sentence end or line break, at
    most `limit` characters on."""
    seg_end = min(len(text), start + limit)
    lead = start
    while lead < seg_end and text[lead].isspace():
        lead += 1
    m = SENTENCE_END.search(text, lead + 1, seg_end)
    return m.start() if m else seg_end


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s and s.strip()]


def norm_text(s: str) -> str:
    """Case-folded, single-spaced, without surrounding punctuation or markdown."""
    s = BOLD.sub("", s.translate(UNICODE_FIXES))
    return " ".join(s.split()).strip(" \t\n.,;:!?\"'`*").casefold()
