"""The `word_list` answer family: lower-case words separated by single spaces, for
word_sorting. The robust rule reads the list after a cue ("The sorted list is:"), then a list
made of items or the answer alone in the first or last paragraph; the official rule is the
first non-empty line."""
from __future__ import annotations

import re

from harness.extract.commitment import in_loop
from harness.extract.cues import REFUSAL, Spots
from harness.extract.options import Options
from harness.extract.registry import Family, register
from harness.extract.text import BOLD, lower, prepare

_WORD_CUE = Spots(
    r"(?:answer\s*(?:is|:)"
    r"|(?:sorted|ordered|arranged)(?:\s+(?:list|words|order|alphabetically|in\s+alphabetical\s+order))*"
    r"(?:\s+(?:is|are|would\s+be|as\s+follows))?\s*:"
    r"|alphabetical(?:ly)?(?:\s+order)?(?:\s+(?:is|are|would\s+be|as\s+follows))?\s*:"
    r"|(?:sorted\s+(?:list|words)|alphabetical\s+order)\s+(?:is|are|would\s+be)\b"
    r"|list\s+(?:is|would\s+be)\s*:)\s*",
    ("answer", "sorted", "ordered", "arranged", "alphabetical", "list"), after=80,
)
_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022])\s+(.+?)\s*$")
_WORD_TOKEN = re.compile(r"^[a-z][a-z0-9'&.-]*$")
_WORD_SPLIT = re.compile(r"[\s,;]+")


def _words_from(region: str) -> str | None:
    lines = [ln for ln in region.split("\n") if ln.strip()]
    items = [m.group(1) for m in map(_ITEM.match, lines) if m]
    if len(items) >= 2 and len(items) >= len(lines) - 1:
        words = items
    elif len(lines) >= 2 and all(len(ln.split()) == 1 for ln in lines):  # one word a line
        words = lines
    else:
        body = lines[0] if lines else ""
        words = _WORD_SPLIT.split(body)
        if "," in body and len(words) > 2 and words[-2].lower() == "and":
            del words[-2]
    words = [BOLD.sub("", w).strip(" .;:!?\"'`()[]").lower() for w in words]
    words = [w for w in words if w]
    if not words or not all(_WORD_TOKEN.match(w) for w in words):
        return None
    return " ".join(words)


def _word_list_robust(text: str, options: Options = None) -> str | None:
    t = prepare(text)
    if not t:
        return None
    low = lower(t)
    cues = _WORD_CUE.finditer(t, low)
    if cues:
        rest = t[cues[-1].end():]
        words = _words_from(re.split(r"\n\s*\n", rest.strip(), maxsplit=1)[0])
        return None if words and _two_lists(words) else words
    if REFUSAL.search(t, low):
        return None
    # A list made of items, or the answer alone on the first or last paragraph; not a
    # repetition loop ("apple banana apple banana ..."), not two lists offered as alternatives.
    paragraphs = [m for m in re.finditer(r"\S(?:.|\n(?!\s*\n))*", t)]
    for p in (paragraphs[0], paragraphs[-1]):
        if _PROSE.search(p.group(0).strip()):
            continue  # a sentence of reasoning ("we look at the first letters: zebra (z), ...") is not a list
        words = _words_from(p.group(0))
        if words and not in_loop(t, p.start(), p.end()):
            return None if _two_lists(words) else words
    return None


_PROSE = re.compile(r"[:()]|[A-Za-z]{2}[.!?]\s|\b(?:the|is|are|was|were|of|to|in)\b", re.IGNORECASE)


def _two_lists(words: str) -> bool:
    """Whether a word list is two orderings of the same words joined by "or"."""
    parts = words.split(" or ")
    return len(parts) > 1 and len({" ".join(sorted(p.split())) for p in parts}) == 1


def _word_list_official(text: str, options: Options = None) -> str | None:
    """The first non-empty line, lower-cased, punctuation stripped (lm-eval instead keeps
    the input's words in response order; the input is not available here)."""
    for line in (text or "").split("\n"):
        words = [w.strip(".;:!?\"'`()[]").lower() for w in re.split(r"[\s,]+", line)]
        words = [w for w in words if w]
        if words:
            return " ".join(words)
    return None


def _word_list_normalize(target: str) -> str:
    return " ".join(w.strip(".;:!?\"'`").lower() for w in re.split(r"[\s,]+", target) if w.strip(".;:!?\"'`"))


register("word_list", Family(_word_list_robust, _word_list_official, _word_list_normalize,
                             "words separated by spaces"))
