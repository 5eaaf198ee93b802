"""Options named by their text, for the `mc` family (multiple_choice.py): a stated answer
without its letter mapped to its option ("the answer is Frankenstein" -> B), and an echoed
options list ("Answer Choices: (A) 5 (B) 6 ...") found and dropped."""
from __future__ import annotations

import functools
import re

from harness.extract.options import Options
from harness.extract.text import UNICODE_FIXES, norm_text


@functools.lru_cache(maxsize=1024)
def _option_index_cached(items: tuple[tuple[str, str], ...]) -> dict[str, str | None]:
    index: dict[str, str | None] = {}
    for letter, body in items:
        key = norm_text(body)
        if key:
            index[key] = None if key in index and index[key] != letter else letter
    return index


def _option_index(options: dict[str, str]) -> dict[str, str | None]:
    """normalised option text -> letter (None where two letters share a text)."""
    return _option_index_cached(tuple(options.items()))


def _joined_runs(options: dict[str, str]) -> dict[str, str]:
    """BBH's data splits a few comma-containing options into consecutive options and gives
    the joined text as the target ("Monsters, Inc" = "(A) Monsters" + "(B) Inc"); map the
    joined text to itself so a model that states it can be scored."""
    bodies = list(options.values())
    runs = {}
    for i in range(len(bodies)):
        for j in range(i + 2, min(len(bodies), i + 5) + 1):
            joined = ", ".join(b.strip() for b in bodies[i:j])
            runs[norm_text(joined)] = joined
    return runs


def _word_in(needle: str, hay: str) -> bool:
    """Whether `needle` occurs in `hay` as whole words."""
    start = 0
    while True:
        i = hay.find(needle, start)
        if i < 0:
            return False
        before = hay[i - 1] if i else " "
        after = hay[i + len(needle)] if i + len(needle) < len(hay) else " "
        if not (before.isalnum() or after.isalnum()):
            return True
        start = i + 1


def option_from_statement(statement: str, options: dict[str, str]) -> str | None:
    """Map a stated answer without a letter ("the quail is the rightmost") to its letter."""
    s = norm_text(statement)
    if not s:
        return None
    index = _option_index(options)
    if s in index:
        return index[s]
    if "," in s:
        joined = _joined_runs(options).get(s)
        if joined:
            return joined
    if any(_word_in(k, s) for k in index):  # it names option texts: only one may remain
        return _option_mentioned(s, options, min_len=1)
    # The statement is part of exactly one option ("the quail" for "The quail is the rightmost").
    if len(s) >= 4:
        letters = {v for k, v in index.items() if _word_in(s, k)}
        if len(letters) == 1 and None not in letters:
            return letters.pop()
    return None


def option_prefix(statement: str, options: dict[str, str]) -> str | None:
    """The option whose whole text (4+ characters) the statement begins with, the longest."""
    s = norm_text(statement)
    best = None
    for key, letter in _option_index(options).items():
        if len(key) >= 4 and letter and s.startswith(key) and (best is None or len(key) > len(best[0])):
            best = (key, letter)
    return best[1] if best else None


def _option_mentioned(text: str, options: dict[str, str], min_len: int = 3) -> str | None:
    """The one option whose text occurs in `text`, if exactly one does (options that are
    part of a longer mentioned option do not count)."""
    hay = norm_text(text)
    hits = sorted(((k, v) for k, v in _option_index(options).items() if len(k) >= min_len and _word_in(k, hay)),
                  key=lambda kv: -len(kv[0]))
    kept: list[tuple[str, str | None]] = []
    for k, v in hits:
        if not any(k in longer for longer, _ in kept):  # "rain man" inside "ruin man" etc.
            kept.append((k, v))
    letters = {v for _, v in kept}
    if len(letters) == 1 and None not in letters:
        return letters.pop()
    return None


_ECHO_LABEL = re.compile(r"(?i:(?:answer\s+)?(?:choices|options)\s*:?)\s*$")
_ECHO_LINE = re.compile(r"\s*[\(\[]?([A-Z])[\)\]\.:]\s")


@functools.lru_cache(maxsize=1024)
def _echo_patterns(items: tuple[tuple[str, str], ...]) -> list[re.Pattern]:
    return [re.compile(r"[\s,;]*[\(\[]?%s[\)\]\.:]\s*%s"
                       % (re.escape(k), re.escape(v.translate(UNICODE_FIXES).strip())), re.IGNORECASE)
            for k, v in items]


def strip_echo(text: str, options: Options, valid: frozenset[str]) -> str:
    """Drop an echoed options list ("Answer Choices: (A) 5 (B) 6 (C) 7 ...") and the question
    echoed before it: what follows the list is the answer, or, if nothing does, what precedes it."""
    span = _echo_span(text, options, valid)
    if span is None:
        return text
    after = text[span[1]:]
    if after.strip():
        return strip_echo(after, options, valid)
    before = _ECHO_LABEL.sub("", text[:span[0]])
    return before if len(before) <= 100 else ""  # a long text before the list is the echoed question


def _echo_span(text: str, options: Options, valid: frozenset[str]) -> tuple[int, int] | None:
    if options:
        items = tuple(options.items())
        need = min(3, len(items))
        if sum(1 for k in options if f"{k})" in text or f"{k}." in text or f"{k}:" in text) < need:
            return None
        patterns = _echo_patterns(items)
        for start in range(len(items) - need + 1):
            for m in patterns[start].finditer(text):
                end, count = m.end(), 1
                for p in patterns[start + 1:]:  # extend the run over the following options
                    more = p.match(text, end)
                    if not more:
                        break
                    end, count = more.end(), count + 1
                if count >= need:
                    return m.start(), end
        return None
    # Without the options: three or more lines "(A) ...", "(B) ...", "(C) ..." in a row.
    offset, run_start, expect = 0, None, 0
    for line in text.split("\n"):
        m = _ECHO_LINE.match(line)
        if m and m.group(1) in valid and ord(m.group(1)) - ord("A") == expect:
            run_start = offset if expect == 0 else run_start
            expect += 1
        elif expect >= 3:
            return run_start, offset
        else:
            expect = 0
            if m and m.group(1) == "A":
                run_start, expect = offset, 1
        offset += len(line) + 1
    return (run_start, len(text)) if expect >= 3 else None
