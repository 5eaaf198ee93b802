"""Commitment (docs/extraction.md, "Commitment"): how much of an output is read, repetition
loops, when a bare mention counts, whether an output was cut off, and where a stated answer
ends. Shared by every answer family."""
from __future__ import annotations

import functools
import re

from harness.extract.text import SENTENCE_END

# The robust extractor reads the first ANALYSED_HEAD characters (up to the first sentence end)
# and the last ANALYSED_TAIL characters. An answer is stated at the start (answer first) or at
# the end (conclusion); 16,000 characters are about 4,000 tokens, eight times the harness's
# default generation budget (512 tokens), so no output the harness makes is cut. What is left
# out of a longer output is its middle, which no rule below may credit anyway (a bare mention
# counts only in a short output or the last sentence). docs/extraction.md, "Linear time".
ANALYSED_HEAD = 1_000
ANALYSED_TAIL = 16_000
# An output this short (characters, after clean-up) is read whole for a bare mention.
SHORT_OUTPUT = 200
# A repetition loop: the same run of at most LOOP_MAX_PERIOD tokens at least LOOP_MIN_COPIES
# times in a row, LOOP_MIN_TOKENS tokens in all ("No No No ...", "= not False and True = not
# False and True = ..."). Small models fall into them when they never reach an answer.
LOOP_MAX_PERIOD = 64
LOOP_MIN_COPIES = 4
LOOP_MIN_TOKENS = 12


def analysed(text: str) -> str:
    """The part of an output the robust extractor reads (see ANALYSED_TAIL): the whole output,
    or, for a longer one, its first sentence and its last ANALYSED_TAIL characters, cut at a
    line or word boundary so no half word reads as a label."""
    if len(text) <= ANALYSED_HEAD + ANALYSED_TAIL:
        return text
    head = text[:ANALYSED_HEAD]
    first_end = SENTENCE_END.search(head, 1)
    head = head[:first_end.start()] if first_end else head
    tail = text[-ANALYSED_TAIL:]
    cut = tail.find("\n", 0, 2_000)
    if cut < 0:
        cut = next((i for i, ch in enumerate(tail[:2_000]) if ch.isspace()), 0)
    return f"{head}\n\n{tail[cut:].lstrip()}"


_TOKEN = re.compile(r"\S+")
_TOKEN_PUNCT = ".,;:!?\"'*`"


def _periodic_run(tokens: list[str]) -> int:
    """How many tokens at the end of `tokens` form a repetition loop (0 if none). Linear:
    for each period the scan stops at the first token that differs, and the first period
    that forms a loop ends the search."""
    n = len(tokens)
    for p in range(1, min(LOOP_MAX_PERIOD, n // LOOP_MIN_COPIES) + 1):
        i = n - 1
        while i >= p and tokens[i] == tokens[i - p]:
            i -= 1
        length = (n - 1 - i) + p
        if length >= LOOP_MIN_COPIES * p and length >= LOOP_MIN_TOKENS:
            return length
    return 0


@functools.lru_cache(maxsize=64)
def _loops(t: str) -> tuple[int, int]:
    """(head_end, tail_start): t[:head_end] is a loop the output starts with, t[tail_start:]
    one it ends with; (0, len(t)) where there is none. A last token cut off mid-word
    ("No No No N") is left out of the comparison."""
    spans = [(m.start(), m.end()) for m in _TOKEN.finditer(t)]
    tokens = [t[a:b].strip(_TOKEN_PUNCT).lower() for a, b in spans]
    tail_start, head_end = len(t), 0
    for drop in (0, 1):
        run = _periodic_run(tokens[:len(tokens) - drop])
        if run:
            tail_start = spans[len(tokens) - drop - run][0]
            break
    for drop in (0, 1):
        run = _periodic_run(tokens[drop:][::-1])
        if run:
            head_end = spans[drop + run - 1][1]
            break
    return head_end, tail_start


def in_loop(t: str, start: int, end: int | None = None) -> bool:
    """Whether t[start:end] lies (partly) inside a repetition loop at the start or end of t."""
    head_end, tail_start = _loops(t)
    return start < head_end or (end if end is not None else start + 1) > tail_start


BREAK = re.compile(r"[.!?](?=\s)|\n")
_FINISHED = frozenset(".!)]*`\"'")


def final_sentence(t: str) -> tuple[int, int, bool]:
    """(start, end, finished) of the output's last sentence; `finished` is False where the
    output stops mid-sentence (cut off at the token limit) rather than at `.` `!` or a
    closing bracket, quote or markdown mark."""
    end = len(t.rstrip())
    if not end:
        return 0, 0, False
    start = 0
    for m in BREAK.finditer(t, max(0, end - 2_000), end - 1):
        start = m.end()
    while start < end and t[start].isspace():
        start += 1
    # a lone "*" is an unfinished product ("(3 *"), "**" closes bold
    return start, end, t[end - 1] in _FINISHED and (t[end - 1] != "*" or t[end - 2:end] == "**")


def bare_mention_ok(t: str, start: int, end: int) -> bool:
    """A mention outside any stated answer counts only (a) in a short output, or (b) in the
    output's last sentence when that sentence is finished; never inside a repetition loop."""
    if in_loop(t, start, end):
        return False
    if len(t) <= SHORT_OUTPUT:
        return True
    s, e, finished = final_sentence(t)
    return finished and start >= s and end <= e


def cut_off(t: str) -> bool:
    """Whether a longer output stops mid-sentence (at the token limit): its conclusions
    ("so ...", "therefore ...") are then steps of unfinished reasoning, not its answer."""
    return len(t) > SHORT_OUTPUT and not final_sentence(t)[2]


# Where a stated answer ends: its sentence, cut before an explanation ("because ..."), a
# contrast ("not (A)", "rather than", "over (A)") or a list of reasons (";", ":").
STATEMENT_CUT = re.compile(
    r"\b(?:because|since|(?<!well\s)as(?!\s+well\b)|which|that|while|whereas|given|due\s+to|based\s+on|rather|"
    r"instead|unlike|not|over|than|compared|but|however|although|though|except)\b|[;:\u2014]|\s-\s",
    re.IGNORECASE)


def statement_end(t: str, first_end: int, clause_end: int, cut_at: re.Pattern = STATEMENT_CUT) -> int:
    """Where the answer stated from `first_end` (just after its first candidate) ends."""
    cut = cut_at.search(t, first_end, clause_end)
    return cut.start() if cut else clause_end


# A candidate right after a negation ("not (A)", "nor valid") is a contrast, not a second answer.
NEGATED = re.compile(r"\b(?:not|nor|neither|no)\s*$", re.IGNORECASE)


def agree_in_loop(t: str, found: list[tuple[int, str | None]]) -> list[tuple[int, str | None]]:
    """Stated answers, with a last one inside a repetition loop only where every statement in
    the loop gives the same answer ("The answer is (A). The answer is (B). The answer is (A). ...")."""
    if not found:
        return found
    last = max(found, key=lambda s: s[0])
    if in_loop(t, last[0]):
        _, tail_start = _loops(t)
        if len({s[1] for s in found if s[0] >= tail_start}) > 1:
            return [(last[0], None)]
    return found
