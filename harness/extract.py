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
"""
from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from typing import Callable

from orca.errors import UserError
from harness.taskdefs import suite_families

__all__ = [
    "AGIEVAL_FAMILY", "BBH_TASK_FAMILY", "FAMILIES", "Family", "damaged_targets", "extract_answer", "extract_official",
    "family_for_task", "is_correct", "normalize_target", "options_from_agieval", "options_from_text",
]

# Each task's answer family is its tasks/<suite>/<task>.yaml `metadata.family` (harness/taskdefs.py).
(AGIEVAL_FAMILY,) = set(suite_families("agieval").values())  # one family for the whole suite
BBH_TASK_FAMILY: dict[str, str] = suite_families("bbh")

Options = dict[str, str] | None

# ---------------------------------------------------------------------------------------------
# Shared text helpers
# ---------------------------------------------------------------------------------------------

_UNICODE_FIXES = str.maketrans({
    "\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2212": "-", "\u2013": "-",
    "\u2014": "-", "\u00a0": " ", "\u200b": None, "\uff08": "(", "\uff09": ")", "\uff1a": ":",
})
# \boxed{X} is rewritten as a plain statement so every family's answer cue handles it.
_BOXED = re.compile(r"\\boxed\s*\{\s*(?:\\(?:text|mathrm|textbf)\s*\{)?([^{}]*?)\}?\s*\}")
_BOLD = re.compile(r"\*\*|__")


def _prepare(text: str | None) -> str:
    if not text:
        return ""
    t = text.translate(_UNICODE_FIXES)
    if "boxed" in t:
        t = _BOXED.sub(lambda m: f" The answer is {m.group(1).strip()}. ", t)
    return t.strip()


def _lower(t: str) -> str:
    """Lower-cased text with the same offsets as `t` (a few characters lower to two)."""
    low = t.lower()
    return low if len(low) == len(t) else "".join(c if len(c.lower()) != 1 else c.lower() for c in t)


class _Spots:
    """A regex tried only in windows around its anchor words (found with str.find in the
    lower-cased text). Scanning a 1,000-character output with a dozen full regexes took
    about a millisecond; most outputs hold few or none of the anchors."""

    def __init__(self, pattern: str, anchors: tuple[str, ...], before: int = 0, after: int = 200,
                 flags: int = re.IGNORECASE):
        self.re = re.compile(pattern, flags)
        self.anchors, self.before, self.after = anchors, before, after

    def finditer(self, t: str, low: str) -> list[re.Match]:
        windows = []
        for anchor in self.anchors:
            i = low.find(anchor)
            while i >= 0:
                windows.append((max(0, i - self.before), min(len(t), i + len(anchor) + self.after)))
                i = low.find(anchor, i + 1)
        if not windows:
            return []
        windows.sort()
        merged = [list(windows[0])]
        for lo, hi in windows[1:]:
            if lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        return [m for lo, hi in merged for m in self.re.finditer(t, lo, hi)]

    def search(self, t: str, low: str) -> re.Match | None:
        found = self.finditer(t, low)
        return found[0] if found else None


# "The answer is", "Answer:", "the correct answer is option", "#### " ... ; the answer starts
# where the match ends.
_ANSWER_CUE = _Spots(
    r"(?:answer(?:\s+(?:choice|option))?(?:\s+to\s+(?:the|this)\s+(?:question|problem))?"
    r"\s*(?:is|was|would\s+be|should\s+be|will\s+be|must\s+be|could\s+be|might\s+be|may\s+be|:|=|-)"
    r"|(?:correct|right|best|final)\s+(?:option|choice|letter|response|one)\s*(?:is|would\s+be|:|=)"
    r"|(?:choice|option|selection)\s*:"
    r"|####)"
    r"(?:\s*(?:therefore|thus|then|clearly|probably|likely|most\s+likely|definitely|indeed|simply|just))?"
    r"\s*[,:]?\s*",  # "the final answer is:\n\n20"
    ("answer", "####", "choice:", "option:", "selection:", *(f"{a} {b}" for a in ("correct", "right", "best", "final")
                          for b in ("option", "choice", "letter", "response", "one"))),
    after=60,
)
_CONCLUSION_CUE = _Spots(
    r"\b(?:so|thus|therefore|hence|consequently|in\s+conclusion|to\s+conclude|in\s+summary|"
    r"overall|in\s+total|altogether|all\s+in\s+all|this\s+means)\b\s*,?\s*",
    ("so", "thus", "therefore", "hence", "consequently", "in conclusion", "to conclude", "in summary",
     "overall", "in total", "altogether", "all in all", "this means"), after=20,
)
_REFUSAL = _Spots(
    r"\b(?:i'?m\s+sorry|i\s+am\s+sorry|i\s+apologi[sz]e|as\s+an\s+ai\b|"
    r"i\s+(?:cannot|can't|can\s+not|am\s+unable\s+to|'m\s+unable\s+to|am\s+not\s+able\s+to|"
    r"do\s+not\s+have\s+enough|don't\s+have\s+enough|do\s+not\s+know|don't\s+know|'m\s+not\s+sure|"
    r"am\s+not\s+sure)|"
    r"(?:cannot|can't|can\s+not)\s+be\s+determined|impossible\s+to\s+(?:determine|say|tell)|"
    r"not\s+enough\s+information|insufficient\s+information|no\s+(?:correct|right)\s+(?:answer|option))",
    ("sorry", "apologi", "as an ai", "cannot", "can't", "can not", "unable", "not able", "enough", "know",
     "not sure", "impossible", "insufficient", "no correct", "no right"), before=12, after=40,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])(?=\s|$)|\n")


def _clause(text: str, start: int, limit: int = 160) -> str:
    """The sentence that begins at `start` (stops at a sentence end or line break)."""
    seg = text[start:start + limit]
    lead = len(seg) - len(seg.lstrip())
    m = _SENTENCE_END.search(seg, lead + 1)
    return seg[: m.start() if m else len(seg)].strip()


def _clause_end(text: str, start: int, limit: int = 160) -> int:
    seg_end = min(len(text), start + limit)
    lead = start
    while lead < seg_end and text[lead].isspace():
        lead += 1
    m = _SENTENCE_END.search(text, lead + 1, seg_end)
    return m.start() if m else seg_end


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _norm_text(s: str) -> str:
    """Case-folded, single-spaced, without surrounding punctuation or markdown."""
    s = _BOLD.sub("", s.translate(_UNICODE_FIXES))
    return " ".join(s.split()).strip(" \t\n.,;:!?\"'`*").casefold()


# ---------------------------------------------------------------------------------------------
# Commitment: how much of an output is read, repetition loops, the extent of a stated answer
# ---------------------------------------------------------------------------------------------

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


def _analysed(text: str) -> str:
    """The part of an output the robust extractor reads (see ANALYSED_TAIL): the whole output,
    or, for a longer one, its first sentence and its last ANALYSED_TAIL characters, cut at a
    line or word boundary so no half word reads as a label."""
    if len(text) <= ANALYSED_HEAD + ANALYSED_TAIL:
        return text
    head = text[:ANALYSED_HEAD]
    first_end = _SENTENCE_END.search(head, 1)
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


def _in_loop(t: str, start: int, end: int | None = None) -> bool:
    """Whether t[start:end] lies (partly) inside a repetition loop at the start or end of t."""
    head_end, tail_start = _loops(t)
    return start < head_end or (end if end is not None else start + 1) > tail_start


_BREAK = re.compile(r"[.!?](?=\s)|\n")
_FINISHED = frozenset(".!)]*`\"'")


def _final_sentence(t: str) -> tuple[int, int, bool]:
    """(start, end, finished) of the output's last sentence; `finished` is False where the
    output stops mid-sentence (cut off at the token limit) rather than at `.` `!` or a
    closing bracket, quote or markdown mark."""
    end = len(t.rstrip())
    if not end:
        return 0, 0, False
    start = 0
    for m in _BREAK.finditer(t, max(0, end - 2_000), end - 1):
        start = m.end()
    while start < end and t[start].isspace():
        start += 1
    # a lone "*" is an unfinished product ("(3 *"), "**" closes bold
    return start, end, t[end - 1] in _FINISHED and (t[end - 1] != "*" or t[end - 2:end] == "**")


def _bare_mention_ok(t: str, start: int, end: int) -> bool:
    """A mention outside any stated answer counts only (a) in a short output, or (b) in the
    output's last sentence when that sentence is finished; never inside a repetition loop."""
    if _in_loop(t, start, end):
        return False
    if len(t) <= SHORT_OUTPUT:
        return True
    s, e, finished = _final_sentence(t)
    return finished and start >= s and end <= e


def _cut_off(t: str) -> bool:
    """Whether a longer output stops mid-sentence (at the token limit): its conclusions
    ("so ...", "therefore ...") are then steps of unfinished reasoning, not its answer."""
    return len(t) > SHORT_OUTPUT and not _final_sentence(t)[2]


# Where a stated answer ends: its sentence, cut before an explanation ("because ..."), a
# contrast ("not (A)", "rather than", "over (A)") or a list of reasons (";", ":").
_STATEMENT_CUT = re.compile(
    r"\b(?:because|since|(?<!well\s)as(?!\s+well\b)|which|that|while|whereas|given|due\s+to|based\s+on|rather|"
    r"instead|unlike|not|over|than|compared|but|however|although|though|except)\b|[;:\u2014]|\s-\s",
    re.IGNORECASE)


def _statement_end(t: str, first_end: int, clause_end: int, cut_at: re.Pattern = _STATEMENT_CUT) -> int:
    """Where the answer stated from `first_end` (just after its first candidate) ends."""
    cut = cut_at.search(t, first_end, clause_end)
    return cut.start() if cut else clause_end


# ---------------------------------------------------------------------------------------------
# Multiple choice (letters)
# ---------------------------------------------------------------------------------------------

_ALL_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_OFFICIAL_LETTERS = frozenset("ABCDEF")
# A bare "A" or "I" followed by a lower-case word is the article / pronoun, unless the word
# is one that naturally follows an answer letter.
_LETTER_FOLLOWERS = frozenset(
    "because since as and which is was for with seems would looks fits matches best correct".split())

# After a cue: optional "option"/"choice", optional bracket or bold, the letter, optional close.
_LETTER_AT = re.compile(
    r"\s*(?:\*\*|__|\$)?\s*(?:(?:options?|choices?|letter)\s*[:#]?\s*)?(?:\*\*|__)?\s*"
    r"(?:(?P<open>[\(\[\{])\s*(?P<pl>[A-Za-z])\s*[\)\]\}]|(?P<bare>[A-Z])(?![A-Za-z0-9'&]))"
    r"(?P<tail>\s*\)?(?:\*\*|__)?)"
)
_NEXT_WORD = re.compile(r"\s+([a-z][a-z']*)")
_ALGEBRA = re.compile(r"\s*[=+*/^<>]|\s*-\s*\d")  # "B = 4", "A - 2": a variable, not an answer
_HEDGE_AFTER = re.compile(
    r"\s*(?:,?\s*or|/|\|)\s*(?:options?\s+|choices?\s+)?[\(\[]?\s*([A-Za-z])\s*[\)\]]?(?![A-Za-z0-9])")
_HEDGE_BUT = re.compile(
    r"\s*,?\s*(?i:but|though|although)\s+(?i:options?\s+|choices?\s+)?[\(\[]?([A-Z])[\)\]]?\s+"
    r"(?i:is|could|might|may|would)\s+(?i:also|be\s+also|equally)\b")
_HEDGE_BEFORE = re.compile(r"\b(?:either|both|between)\s*$", re.IGNORECASE)
_LETTER_IS_CORRECT = _Spots(
    r"(?:\b(?i:options?|choices?)\s*[\(\[]?\s*(?P<a>[A-Z])\s*[\)\]]?|[\(\[]\s*(?P<b>[A-Z])\s*[\)\]]|"
    r"(?<![A-Za-z'])(?P<c>[A-Z]))(?![A-Za-z0-9'])"
    r"(?:\s*\([^()\n]{0,80}\))?\s*(?:,\s*[^,\n]{0,80},\s*)?"
    r"(?i:is|would\s+be|must\s+be|should\s+be|seems\s+to\s+be|appears\s+to\s+be)\s+(?i:the\s+)?(?i:most\s+)?"
    r"(?i:correct|right|best|answer)\b(?!\s+(?i:about|that|because|if|way|for|to|when|choices))",
    tuple(f"{verb} {article}{word}" for verb in ("is", "be") for article in ("", "the ", "the most ")
          for word in ("correct", "right", "best", "answer")),
    before=220, after=30, flags=0,
)
_ENDS_SENTENCE = re.compile(r"\s*(?:[.!\n]|$)")
_REJECTED_AFTER = re.compile(  # "B is wrong. C is wrong. So A."
    r"\s*(?:is|are|was)\s+(?:(?:also|clearly|definitely)\s+)?(?:wrong|incorrect|not|false|invalid)\b", re.IGNORECASE)
_NEGATED = re.compile(r"\b(?:not|nor|neither|no)\s*$", re.IGNORECASE)
_CHOOSE = _Spots(
    r"\b(?:i\s+(?:would|will|'d|'ll)\s+(?:choose|select|pick|go\s+with|say)|i\s+(?:choose|select|pick)|"
    r"(?:choose|select|pick|go\s+with)\s+(?=[\(\[]|option|choice|[A-Z]\b))",
    ("choose", "select", "pick", "go with", "say"), before=12, after=30,
)
_BOLD_LETTER = _Spots(
    r"(?:\*\*|__)\s*(?:(?:options?|choices?|answer)\s*:?\s*)?[\(\[]?(?P<l>[A-Z])[\)\]]?[.:]?\s*(?:\*\*|__)"
    r"|(?:\*\*|__)\s*[\(\[](?P<p>[A-Z])[\)\]]",
    ("**", "__"), after=30, flags=0,
)
_MARKER = _Spots(
    r"(?:[\(\[](?P<p>[A-Za-z])[\)\]]|\b(?i:option|choice)\s*[\(\[]?(?P<o>[A-Z])\b[\)\]]?)(?![A-Za-z0-9])",
    ("(", "[", "option", "choice"), after=12, flags=0,
)
_LEADING = re.compile(
    r"^(?:\s|#+|>|\*\*|__|[-*]\s)*(?i:(?:final\s+)?answer\s*:\s*)?(?:\*\*|__)?\s*"
    r"(?P<x>(?i:(?:options?|choices?)\s*)?(?:[\(\[]\s*[A-Za-z]\s*[\)\]]|[A-Z](?=$|[\s.,:;)\-!*])))"
)
_EITHER = _Spots(
    r"\b(?i:either|both)\s+(?i:options?\s+|choices?\s+)?[\(\[]?[A-Z][\)\]]?\s+(?i:or|and)\s+"
    r"(?i:options?\s+|choices?\s+)?[\(\[]?[A-Z][\)\]]?(?![A-Za-z])"
    r"|[\(\[][A-Z][\)\]]\s*(?:or|/)\s*[\(\[][A-Z][\)\]]",
    ("either", "both", ") or", ")/", "] or"), before=4, after=50, flags=0,
)


def _letter_after(text: str, pos: int, valid: frozenset[str]) -> tuple[str | None, bool]:
    """(letter, hedged) for a letter stated at `pos`; (None, False) if none is there."""
    m = _LETTER_AT.match(text, pos)
    if not m:
        return None, False
    if m.group("pl"):
        letter = m.group("pl").upper()
    else:
        letter = m.group("bare")
        after = m.end("bare")
        if letter in "AI":
            word = _NEXT_WORD.match(text, after)
            if word and word.group(1) not in _LETTER_FOLLOWERS:
                return None, False
        if _ALGEBRA.match(text, after):
            return None, False
    if letter not in valid:
        return None, False
    if _HEDGE_BEFORE.search(text, max(0, pos - 12), pos):
        return None, True
    for hedge in (_HEDGE_AFTER, _HEDGE_BUT):
        h = hedge.match(text, m.end())
        if h and h.group(1).upper() != letter and h.group(1).upper() in valid:
            return None, True
    return letter, False


_GAP = re.compile(r"(?:[ .:*)\]]|\s-\s)*")  # between a letter and its text; not the sign of "(D)-8"
# Any way of naming an option inside a stated answer, for counting how many it names.
_MC_CANDIDATE = re.compile(
    r"[\(\[]\s*(?P<p>[A-Za-z])\s*[\)\]]|\b(?i:options?|choices?|letters?)\s*(?P<o>[A-Z])(?![A-Za-z0-9'])"
    r"|(?<![A-Za-z0-9'(\[])(?P<b>[A-Z])(?![A-Za-z0-9'&])")


def _mc_candidates(t: str, start: int, end: int, valid: frozenset[str], options: Options,
                   first_only: bool = False) -> tuple[set[str], int]:
    """The distinct options named in t[start:end] ("(A) and (B)" names two, "(A) Monsters ...
    so (A)" one), and where the first one's naming ends. An option's own text after its letter
    is skipped (LSAT options name people by letters: "(B) F, G, and H"); "not (A)" and the
    articles "A" / "I" are not candidates."""
    out: set[str] = set()
    pos = start
    while True:
        m = _MC_CANDIDATE.search(t, pos, end)
        if not m:
            return out, pos
        pos = m.end()
        if m.group("p"):
            letter = m.group("p").upper()
        elif m.group("o"):
            letter = m.group("o")
        else:
            letter = m.group("b")
            word = _NEXT_WORD.match(t, m.end())
            if (letter in "AI" and word and word.group(1) not in _LETTER_FOLLOWERS) or _ALGEBRA.match(t, m.end()):
                continue
        if letter not in valid or _NEGATED.search(t, max(0, m.start() - 16), m.start()):
            continue
        out.add(letter)
        if options and letter in options:
            # the option's own text after its letter is part of naming it; another option's
            # text there ("(C) rainmman" where rainmman is (D)) names that option too
            gap = _GAP.match(t, pos).end()
            for other in sorted(options, key=lambda k: k != letter):
                body = options[other].translate(_UNICODE_FIXES).strip().strip("$").strip()  # "$70" is written 70
                if body and (other == letter or len(body) >= 3 or any(c.isdigit() for c in body)) \
                        and _text_at(t, gap, body):
                    out.add(other)
                    pos = gap + len(body)
                    break
        if first_only:
            return out, pos


def _text_at(t: str, pos: int, body: str) -> bool:
    """Whether `body` is written at t[pos:] (case-blind) and ends there as a whole word."""
    end = pos + len(body)
    return t[pos:end].casefold() == body.casefold() and not (end < len(t) and t[end].isalnum() and body[-1].isalnum())


def _mc_single(t: str, start: int, first_end: int, valid: frozenset[str], options: Options,
               limit: int = 160) -> bool:
    """Whether the answer stated from `start` (its first candidate ends at `first_end`) names
    one option only, up to the end of its statement (after the option's own text, if given)."""
    _, after = _mc_candidates(t, start, min(len(t), first_end + limit), valid, options, first_only=True)
    after = max(after, first_end)
    end = _statement_end(t, after, _clause_end(t, after, limit))
    return len(_mc_candidates(t, start, end, valid, options)[0]) <= 1


def _agree_in_loop(t: str, found: list[tuple[int, str | None]]) -> list[tuple[int, str | None]]:
    """Stated answers, with a last one inside a repetition loop only where every statement in
    the loop gives the same answer ("The answer is (A). The answer is (B). The answer is (A). ...")."""
    if not found:
        return found
    last = max(found, key=lambda s: s[0])
    if _in_loop(t, last[0]):
        _, tail_start = _loops(t)
        if len({s[1] for s in found if s[0] >= tail_start}) > 1:
            return [(last[0], None)]
    return found


@functools.lru_cache(maxsize=1024)
def _option_index_cached(items: tuple[tuple[str, str], ...]) -> dict[str, str | None]:
    index: dict[str, str | None] = {}
    for letter, body in items:
        key = _norm_text(body)
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
            runs[_norm_text(joined)] = joined
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


def _option_from_statement(statement: str, options: dict[str, str]) -> str | None:
    """Map a stated answer without a letter ("the quail is the rightmost") to its letter."""
    s = _norm_text(statement)
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


def _option_prefix(statement: str, options: dict[str, str]) -> str | None:
    """The option whose whole text (4+ characters) the statement begins with, the longest."""
    s = _norm_text(statement)
    best = None
    for key, letter in _option_index(options).items():
        if len(key) >= 4 and letter and s.startswith(key) and (best is None or len(key) > len(best[0])):
            best = (key, letter)
    return best[1] if best else None


def _option_mentioned(text: str, options: dict[str, str], min_len: int = 3) -> str | None:
    """The one option whose text occurs in `text`, if exactly one does (options that are
    part of a longer mentioned option do not count)."""
    hay = _norm_text(text)
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
_QA_LABEL = re.compile(r"\s*[QA]:(?:[ \t]+(?=\S)|\s*$)")
_ECHO_LINE = re.compile(r"\s*[\(\[]?([A-Z])[\)\]\.:]\s")
_LETTER_LINE = re.compile(r"^\s*(?:\*\*|__)?\s*[\(\[]?([A-Z])[\)\]]?\s*[.:]?\s*(?:\*\*|__)?\s*$", re.MULTILINE)


@functools.lru_cache(maxsize=1024)
def _echo_patterns(items: tuple[tuple[str, str], ...]) -> list[re.Pattern]:
    return [re.compile(r"[\s,;]*[\(\[]?%s[\)\]\.:]\s*%s"
                       % (re.escape(k), re.escape(v.translate(_UNICODE_FIXES).strip())), re.IGNORECASE)
            for k, v in items]


def _strip_echo(text: str, options: Options, valid: frozenset[str]) -> str:
    """Drop an echoed options list ("Answer Choices: (A) 5 (B) 6 (C) 7 ...") and the question
    echoed before it: what follows the list is the answer, or, if nothing does, what precedes it."""
    span = _echo_span(text, options, valid)
    if span is None:
        return text
    after = text[span[1]:]
    if after.strip():
        return _strip_echo(after, options, valid)
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


def _mc_robust(text: str, options: Options = None) -> str | None:
    t = _prepare(text)
    if not t:
        return None
    low = _lower(t)
    valid = frozenset(options) if options else _ALL_LETTERS

    # 1. A stated answer: the last "answer is X" / "X is correct" wins ("Option A is wrong
    #    because ... so the answer is (C)"); a hedge there, or a second option named in it
    #    ("the answer is (A) and (B)"), makes the output unparseable.
    stated: list[tuple[int, str | None]] = []
    text_clauses: list[str] = []
    for m in _ANSWER_CUE.finditer(t, low):
        letter, hedged = _letter_after(t, m.end(), valid)
        prefix = None
        if letter and options and t[m.end():m.end() + 1].isalpha():
            # "The answer is A Brazilian teacher ...": an option's text that begins with a letter
            prefix = _option_prefix(_clause(t, m.end(), 400), options)
            letter = prefix or letter
        if letter and not prefix and not _mc_single(t, m.end(), _LETTER_AT.match(t, m.end()).end(),
                                                           valid, options):
            letter, hedged = None, True
        if letter or hedged:
            stated.append((m.start(), letter))
        else:
            line_end = t.find("\n", m.end(), m.end() + 400)
            text_clauses.append((_clause(t, m.end()), t[m.end():line_end if line_end >= 0 else m.end() + 400]))
    for m in _LETTER_IS_CORRECT.finditer(t, low):
        letter = m.group("a") or m.group("b") or m.group("c")
        if letter in valid and not _NEGATED.search(t, max(0, m.start() - 16), m.start()):
            stated.append((m.start(), letter))
    stated = _agree_in_loop(t, stated)
    if stated:
        return max(stated, key=lambda s: s[0])[1]
    if options:
        for sentence, line in reversed(text_clauses[-8:]):  # "The answer is Frankenstein."; the last ones
            mapped = _option_from_statement(sentence, options) or _option_from_statement(line, options)
            if mapped:
                return mapped

    # 2. Weaker explicit choices: "I would choose (B)", "**B**", "So A."; not inside a
    #    repetition loop, and naming one option only.
    weak = []
    for m in _CHOOSE.finditer(t, low):
        letter, hedged = _letter_after(t, m.end(), valid)
        if letter and not _mc_single(t, m.end(), _LETTER_AT.match(t, m.end()).end(), valid, options):
            letter, hedged = None, True
        if (letter or hedged) and not _in_loop(t, m.start()):
            weak.append((m.start(), letter))
    for m in _BOLD_LETTER.finditer(t, low):
        letter = m.group("l") or m.group("p")
        if letter in valid and not _in_loop(t, m.start()):
            weak.append((m.start(), letter if _mc_single(t, m.start(), m.end(), valid, options) else None))
    for m in ([] if _cut_off(t) else _CONCLUSION_CUE.finditer(t, low)):  # "So A.", "Therefore, (C)."
        letter, hedged = _letter_after(t, m.end(), valid)
        if (letter or hedged) and _ENDS_SENTENCE.match(t, _LETTER_AT.match(t, m.end()).end()) \
                and not _in_loop(t, m.start()):
            weak.append((m.start(), letter))
    if weak:
        last = max(weak, key=lambda s: s[0])
        sentence_start = max((b.end() for b in _BREAK.finditer(t, max(0, last[0] - 200), last[0])), default=0)
        if any(s[1] != last[1] for s in weak if s[0] >= sentence_start):
            return None  # "**(A)** and **(C)**"
        return last[1]

    if _REFUSAL.search(t, low) or _EITHER.search(t, low):
        return None
    body = _strip_echo(t, options, valid)
    qa = _QA_LABEL.match(body)  # "A: ..." in a "Q: ... A:" prompt is a label, not option A
    if qa:
        body = body[qa.end():]
    if body is not t:
        low = _lower(body)

    # 3. The answer given first: "(B) The specialist ...", "B.", "B", "Option C - ...", or a
    #    line holding nothing but a letter; its first statement must name one option only
    #    ("(A) and (B) are both sarcastic." is not an answer), and not start a repetition loop.
    m = _LEADING.match(body)
    if m and not _REJECTED_AFTER.match(body, m.end()) and not _in_loop(body, m.start("x")):
        letter, hedged = _letter_after(body, m.start("x"), valid)
        if hedged or (letter and not _mc_single(body, m.start("x"), m.end(), valid, options)):
            return None
        if letter:
            return letter
    lines = {m.group(1) for m in _LETTER_LINE.finditer(body) if not _in_loop(body, m.start(), m.end())} & valid
    if len(lines) == 1:
        return lines.pop()

    # 4. Bare mentions (docs/extraction.md, "Commitment"): exactly one option marked in the
    #    whole output, "I believe (C) fits best.", where the output is short or the mark is in
    #    its finished last sentence, and not inside a repetition loop.
    marks = [(m, (m.group("p") or m.group("o")).upper()) for m in _MARKER.finditer(body, low)]
    marked = {letter for _, letter in marks} & valid
    if len(marked) == 1:
        return marked.pop() if any(_bare_mention_ok(body, m.start(), m.end()) for m, _ in marks) else None
    if marked or not options:
        return None

    # 5. The option's text without its letter: the whole short answer, or its finished last
    #    sentence; questions ("What is the date today?") do not count.
    sentences = [s for s in _sentences(body) if not s.endswith("?")]
    statement = " ".join(sentences)
    if len(statement) <= 200 and not _in_loop(body, 0, len(body)):
        mapped = _option_from_statement(statement, options)
        if mapped:
            return mapped
    # the first sentence, where it states an option's text (answer first: "The antecedent of
    # the pronoun ... is ambiguous."), then the finished last sentence
    first = next((x for x in _SENTENCE_END.split(body) if x.strip()), "").strip()
    if first and not first.endswith("?") and len(first) <= 200 and not _in_loop(body, 0, len(first)):
        mapped = _option_from_statement(first, options)
        if mapped:
            return mapped
    start, end, finished = _final_sentence(body)
    if sentences and finished and _bare_mention_ok(body, start, end):
        return _option_from_statement(sentences[-1], options)
    return None


def _mc_official(text: str, options: Options = None) -> str | None:
    """AGIEval / Orca: the first capital letter of the response among A-F (plus the
    example's own option letters, for BBH tasks with more than six options)."""
    letters = _OFFICIAL_LETTERS | frozenset(options or ())
    for ch in text or "":
        if ch in letters:
            return ch
    return None


def _mc_normalize(target: str) -> str:
    s = _norm_text(target).strip("()[]{} ")
    if len(s) == 1 and s.isalpha():
        return s.upper()
    return _norm_text(target)


# ---------------------------------------------------------------------------------------------
# Label families: True/False, Yes/No, valid/invalid
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _LabelSet:
    """Canonical labels and the (lower-case) phrases that state them. Negated phrases come
    first so "not valid" wins over "valid"; word boundaries keep "plausible" out of "implausible"."""

    labels: tuple[str, ...]
    phrases: tuple[tuple[str, str], ...]  # (regex, canonical label)
    core: str  # regex of the bare labels, for the official rule
    # Phrases that reasoning uses about many things ("Alexis lies", "Vernell tells the truth"):
    # they state the answer only in a conclusion or as the whole (one-sentence) output.
    weak: frozenset[str] = frozenset()
    bare_needs_end: bool = False  # "no" is also a determiner ("there is no reason")
    alternative: str = r"\s*,?\s*(?:or|/|and/or)\s*(?:maybe\s+|perhaps\s+)?"  # "True or False"

    def __post_init__(self):
        # No named groups (they make the scan several times slower); a match's label is looked
        # up afterwards. Run on lower-cased text.
        alternation = "|".join(p for p, _ in self.phrases)
        object.__setattr__(self, "_any", re.compile(rf"\b(?:{alternation})\b"))
        object.__setattr__(self, "_each", tuple((re.compile(p), label) for p, label in self.phrases))
        object.__setattr__(self, "_bare", {label.casefold(): label for label in self.labels})
        object.__setattr__(self, "_official", re.compile(rf"\b({self.core})\b"))
        object.__setattr__(self, "_alternative", re.compile(self.alternative))

    def mentions(self, low: str) -> list[tuple[int, int, str, bool, bool]]:
        """(start, end, label, is_bare_label, is_weak) for every phrase in `low`."""
        out = []
        for m in self._any.finditer(low):
            said = m.group(0)
            if said in self._bare:
                out.append((m.start(), m.end(), self._bare[said], True, False))
            else:
                pattern, label = next((p, lab) for p, lab in self._each if p.fullmatch(said))
                out.append((m.start(), m.end(), label, False, pattern.pattern in self.weak))
        return out

    def statements(self, low: str, mentions) -> list[tuple[int, int, str, bool]]:
        """The mentions that state an answer: a phrase ("is lying", "not plausible"), a label
        after a copula ("is valid", "= False"), or a label as its own sentence ("No, ...")."""
        out = []
        # The next sentence end after each mention, from one pass over the text (a search per
        # mention made "No No No ..." quadratic).
        ends = [m.start() for m in _TERMINATOR.finditer(low)]
        for mention in mentions:
            start, end, _, bare, _ = mention
            i = bisect.bisect_left(ends, end)
            if i < len(ends) and low[ends[i]] == "?":  # "Is the following sentence plausible?"
                continue
            if _OPERATOR_AFTER.match(low, end):  # part of an expression: "True and not False"
                continue
            if bare:
                kind = _before_kind(low[max(0, start - 40):start])
                at_end = _OWN_AFTER.match(low, end) is not None
                if not ((kind == "own" and at_end) or (kind == "copula" and (at_end or not self.bare_needs_end))):
                    continue
            out.append(mention)
        return out

    def hedged(self, low: str, mentions) -> bool:
        """Two different labels offered as alternatives: "True or False", "valid/invalid"."""
        return any(a[2] != b[2] and self._alternative.fullmatch(low, a[1], b[0])
                   # an expression, not alternatives: "True or False is True", "( True or False )",
                   # '"not True or False" is ...'
                   and not _EXPRESSION_AFTER.match(low, b[1])
                   and not _EXPRESSION_BEFORE.search(low, max(0, a[0] - 8), a[0])
                   for a, b in zip(mentions, mentions[1:]))


_COPULAS = frozenset("is are was were be seems equals gives returns say answer conclude to in".split())
_CONCLUDERS = frozenset("so thus therefore hence".split())
_OWN_AFTER = re.compile(r"\s*[\"')]?\s*(?:[.,!;:\n]|$)")
_TERMINATOR = re.compile(r"[.!?\n]")
_EXPRESSION_AFTER = re.compile(r"[\s\"'`]*(?:\)|=|(?:is|evaluates|equals|gives|and|or)\b)")
_EXPRESSION_BEFORE = re.compile(r"(?:\bnot|\(|\band|\bor|=)\s*$")
_OPERATOR_AFTER = re.compile(r"[\s)]*\s(?:and|or)\s+(?:not\s+)*(?:true|false|\()")  # "True and not ( False )"


def _before_kind(before: str) -> str | None:
    """What precedes a bare label: "own" (sentence start: "No, ..."), "copula" ("is valid",
    "= False", "evaluates to True") or None. Plain string checks: this runs per mention."""
    b = before.rstrip(" \t\"'(")
    if not b or b[-1] in ".!?\n" or b.endswith("**"):
        return "own"
    if b[-1] == "=" or (b[-1] == ":" and not (len(b) >= 2 and b[-2] in "qa" and (len(b) == 2 or not b[-3].isalnum()))):
        return "copula"  # "= False", "Result: True"; not the "Q:" / "A:" of a prompt
    words = b.split()
    last = words[-1].rstrip(",")
    if last in _CONCLUDERS:
        return "own"
    if (last in ("a", "an", "the") or last.endswith("ly")) and len(words) > 1:
        last = words[-2]
    if last in _COPULAS and (last not in ("to", "in") or (len(words) > 1 and words[-2] in ("evaluates", "results"))):
        return "copula"
    return None


_TRUE_FALSE = _LabelSet(
    labels=("True", "False"),
    # "not True" is part of the expression itself; only "is not true" states an answer.
    phrases=((r"is\s+not\s+true", "False"), (r"is\s+not\s+false", "True"), (r"true", "True"),
             (r"false", "False")),
    core="True|False",
)
_LIES = r"does\s*n[o']t\s+tell\s+the\s+truth|is\s+not\s+telling\s+the\s+truth|is\s+lying|lies"
_TRUTH = r"tells\s+the\s+truth|is\s+telling\s+the\s+truth|is\s+truthful"
_YES_NO = _LabelSet(
    labels=("Yes", "No"),
    phrases=(
        (r"not\s+(?:(?:entirely|very|quite|really|particularly|fully|completely|totally|that|so)\s+)?plausible"
         r"|implausible|not\s+a\s+plausible|unlikely\s+to\s+be\s+true", "No"),
        (_LIES, "No"),
        (_TRUTH, "Yes"),
        (r"(?:not|n't|never)\s+(?:\w+\s+)?(?:return|end\s+up|be\s+back|come\s+back|get\s+back|arrive)\w*"
         r"\s+(?:\w+\s+){0,2}(?:to|at)\s+the\s+start(?:ing)?\s+(?:point|position|location)", "No"),
        (r"(?:return|end\s+up|back|arrive)\w*\s+(?:\w+\s+){0,2}(?:to|at)\s+the\s+start(?:ing)?\s+"
         r"(?:point|position|location)", "Yes"),
        (r"plausible", "Yes"),
        (r"yes", "Yes"), (r"no", "No"),
    ),
    core="Yes|No|yes|no",
    weak=frozenset({_LIES, _TRUTH}),
    bare_needs_end=True,
    alternative=r"\s*,?\s*(?:or|/|and/or|and)\s*(?:maybe\s+|perhaps\s+)?",  # "yes and no" hedges
)
_VALID_INVALID = _LabelSet(
    labels=("valid", "invalid"),
    phrases=((r"not\s+(?:deductively\s+|logically\s+)?valid", "invalid"), (r"invalid", "invalid"),
             (r"valid", "valid")),
    core="valid|invalid",
)


def _one(mentions) -> str | None:
    distinct = {m[2] for m in mentions}
    return distinct.pop() if len(distinct) == 1 else None


def _label_single(ls: _LabelSet, low: str, found, clause_end: int):
    """The label the answer stated by found[0] gives, up to the end of its statement; None
    where the statement names two labels ("the answer is No, the sentence is plausible") or
    offers them as alternatives ("True or False"). A label after "not" or "rather than" is
    a contrast, not a second answer ("valid, not invalid")."""
    if ls.hedged(low, found):
        return None
    end = _statement_end(low, found[0][1], clause_end)
    named = [x for x in found if x[0] < end and (x is found[0] or not _NEGATED.search(low, max(0, x[0] - 16), x[0]))]
    return _one(named)


def _label_robust(ls: _LabelSet, text: str) -> str | None:
    t = _BOLD.sub("", _prepare(text))
    if not t:
        return None
    low = _lower(t)
    mentions = ls.mentions(low)
    # 1. Stated answer; the last one wins; two labels in it ("True or False", "No, it is
    #    plausible") make it unparsed, as do two different ones inside a repetition loop.
    statements = ls.statements(low, mentions)
    stated = []
    for m in _ANSWER_CUE.finditer(t, low):
        end = _clause_end(t, m.end(), 80)
        i = bisect.bisect_left(mentions, (m.end(),))
        if i < len(mentions) and mentions[i][1] <= end:
            # "True" / "valid" always name a label; "no" may be a determiner ("no reason")
            named = statements if ls.bare_needs_end else mentions
            found = [mentions[i]] + [x for x in named[bisect.bisect_right(named, mentions[i]):] if x[1] <= end]
            hedge = ls.hedged(low, [x for x in mentions[i:i + 8] if x[1] <= end])  # "Yes and no"
            stated.append((m.start(), None if hedge else _label_single(ls, low, found, end)))
    stated = _agree_in_loop(t, stated)
    if stated:
        return max(stated, key=lambda s: s[0])[1]
    if (not statements and _REFUSAL.search(t, low)) or ls.hedged(low, mentions):
        return None
    # 2. Answer first: "No, the sentence ...", "True." (not the start of a repetition loop).
    lead = len(t) - len(t.lstrip(" \t\n#>*\"'([")) if t[0] in " \t\n#>*\"'([" else 0
    if mentions and mentions[0][0] == lead and not _OPERATOR_AFTER.match(low, mentions[0][1]) \
            and not _in_loop(t, lead):
        first_end = _clause_end(t, lead, 160)
        return _label_single(ls, low, [mentions[0]] + [x for x in statements if mentions[0][1] <= x[0] < first_end],
                             first_end)
    # 3. Conclusion: "Therefore, the argument is invalid."; the last statement in the last one
    #    outside a repetition loop; two different labels there (not counting phrases about
    #    other people: "so Alexis lies and Elanor tells the truth") make it unparsed.
    for m in ([] if _cut_off(t) else reversed(_CONCLUSION_CUE.finditer(t, low))):
        if _in_loop(t, m.start()):
            continue
        end = _clause_end(t, m.end(), 120)
        found = [x for x in statements if m.end() <= x[0] < end]
        if found:
            strong = [x for x in found if not x[4]]
            if strong and _label_single(ls, low, strong, end) is None:
                return None
            if any(x[2] != found[-1][2] for x in statements if x[0] >= end and not x[4]):
                break  # the reasoning went on to another label: read the last sentence (step 4)
            return found[-1][2]
    # 4. Bare statements (docs/extraction.md, "Commitment"), outside repetition loops. A short
    #    output: if they all agree, that label; otherwise the first sentence's, then the last
    #    sentence's. A longer one: the first sentence's (answer first), then the finished last
    #    sentence's; a label in the middle of a long text is not an answer.
    statements = [x for x in statements if not _in_loop(t, x[0], x[1])]
    ends = [m.start() for m in _SENTENCE_END.finditer(t)] + [len(t)]
    starts = [0] + [e + 1 for e in ends[:-1]]
    spans = [(s, e) for s, e in zip(starts, ends) if t[s:e].strip(" \n.!?")]
    if len(spans) > 1:
        statements = [x for x in statements if not x[4]]
    if not statements:
        return None
    short = len(t) <= SHORT_OUTPUT
    if short and _one(statements):
        return _one(statements)
    s, e = spans[0]
    one = _one([x for x in statements if s <= x[0] < e])
    if one:
        return one
    s, e, finished = _final_sentence(t)
    if short or finished:
        return _one([x for x in statements if s <= x[0] < e])
    return None


def _label_official(ls: _LabelSet, text: str) -> str | None:
    m = ls._official.search(text or "")
    return _label_normalize(ls, m.group(1)) if m else None


def _label_normalize(ls: _LabelSet, target: str) -> str:
    s = _norm_text(target).strip("()[]")
    for label in ls.labels:
        if s == label.casefold():
            return label
    return s


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
         if i >= 2}
_DIGITS = re.compile(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?")
_NUMBER_WORD = re.compile(
    r"\b(?P<neg>negative\s+|minus\s+)?(?P<word>(?:" + "|".join(_TENS) + r")(?:[\s-](?:"
    + "|".join(list(_UNITS)[1:10]) + r"))?|" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")\b")
_NUMBER_CUE = _Spots(
    r"\b(?:result|total|sum|count|value|number(?:\s+of\s+[a-z]+(?:\s+[a-z]+)?)?|final\s+count)"
    r"\s*(?:is|was|would\s+be|will\s+be|comes\s+to|equals|of|=|:)\s*(?:therefore\s+|then\s+)?",
    ("result", "total", "sum", "count", "value", "number"), after=60,
)
_HAVE_CUE = _Spots(r"\b(?:you|i|we|there)\s+(?:have|has|are|is)\s+(?:a\s+total\s+of\s+)?",
                   ("you", "i ", "we", "there"), after=40)
_LIST_MARKER = re.compile(r"^\d+[.)]\s+\S")
_CALCULATION = re.compile(r"\d\s*[-+*/=x×]\s*[-\d(]")
_EQUALS = re.compile(r"=\s*")


def _numbers(text: str) -> list[tuple[int, str]]:
    """(offset, value) of the numbers in `text`: written in digits, or, where there are
    none, in words ("eight"; with digits present "one of them" is not a count)."""
    out = []
    for m in _DIGITS.finditer(text):
        i, j = m.start(), m.end()
        if (i and (text[i - 1].isalnum() or text[i - 1] in "._")) or (
                j < len(text) and (text[j].isalnum() or text[j] == "_")):
            continue  # part of a word or a longer token ("x2", "v1.2")
        raw = m.group(0).replace(",", "")
        value = float(raw) if "." in raw else int(raw)
        start, neg = i, False
        if i and text[i - 1] == "-" and not (i > 1 and (text[i - 2].isalnum() or text[i - 2] in "._")):
            start, neg = i - 1, True
        elif text[max(0, i - 9):i].lower().endswith(("negative ", "minus ")):
            neg = True
        if isinstance(value, float):
            if not value.is_integer():
                out.append((start, ("-" if neg else "") + repr(value)))
                continue
            value = int(value)
        out.append((start, str(-value if neg else value)))
    if out:
        return out
    for m in _NUMBER_WORD.finditer(text.lower()):
        value = sum(_TENS.get(p, _UNITS.get(p, 0)) for p in re.split(r"[\s-]+", m.group("word")))
        out.append((m.start(), str(-value if m.group("neg") else value)))
    return out


_NUMBER_STATEMENT_CUT = re.compile(_STATEMENT_CUT.pattern.replace(r"|\s-\s", "") + r"|\(", re.IGNORECASE)


def _committed_number(clause: str, nums) -> str | None:
    """The one number a stated answer gives: after its last "=" where it states a
    calculation ("46 - 22 = 24"), else its first number if it names no other one ("7 or 8",
    "8 apples and 3 pears"); an explanation after it ("8, since 3 + 5 = 8", "8 (3 + 5)")
    does not count."""
    end = _statement_end(clause, nums[0][0] + 1, len(clause), _NUMBER_STATEMENT_CUT)
    stated = [(p, v) for p, v in nums if p < end]
    eq = clause.rfind("=", 0, end)
    if eq >= 0:
        after = [v for p, v in stated if p > eq]
        if after and not (len(set(after)) > 1 and re.search(r"\b(?:or|either)\b", clause[eq:end], re.I)):
            return after[0]
        if after:
            return None
    return stated[0][1] if len({v for _, v in stated}) == 1 else None


def _number_in_cue(t: str, low: str, cue: _Spots, max_offset: int = 12, alone: bool = False):
    """(position, number) stated right after the last `cue` that has one, the number None
    where the statement names several ("either 7 or 8"); False where no cue states a number."""
    for m in reversed(cue.finditer(t, low)):
        clause = _clause(t, m.end(), 80)
        nums = _numbers(clause)
        if nums and nums[0][0] <= max_offset:
            if alone and (len(nums) > 1 or "," in _clause(t, m.end(), 400).split(":")[0]):
                continue  # a list of things ("I have two beds, a stove, ..."), not a count
            return m.start(), _committed_number(clause, nums)
    return False


def _number_robust(text: str, options: Options = None) -> str | None:
    t = _BOLD.sub("", _prepare(text))
    if not t:
        return None
    low = _lower(t)
    # "the answer is" always; "the total is", "the number of fruits is" are steps of the
    # reasoning where the output is cut off before its end
    for cue in (_ANSWER_CUE,) if _cut_off(t) else (_ANSWER_CUE, _NUMBER_CUE):
        found = _number_in_cue(t, low, cue)
        if found is not False:
            return found[1]
    if _REFUSAL.search(t, low):
        return None
    whole = _numbers(t)
    # The answer first ("8\n\nExplanation: ...", "8 instruments."), not a list marker
    # ("1. First, ...") nor the start of a calculation ("(-1 + 2) = ...") nor a loop ("8 8 8 ...").
    if whole and whole[0][0] == len(t) - len(t.lstrip("*# ")) and not _LIST_MARKER.match(t) \
            and not _in_loop(t, whole[0][0]):
        head = _clause(t, 0, 40)
        if len({v for _, v in _numbers(head)}) == 1 and not _CALCULATION.search(head):
            return whole[0][1]
    for m in ([] if _cut_off(t) else reversed(_CONCLUSION_CUE.finditer(t, low))):
        if _in_loop(t, m.start()):
            continue
        clause = _clause(t, m.end(), 120)
        nums = _numbers(clause)
        if nums:
            if t.rfind("=") > m.end() + len(clause):
                break  # the calculation went on after it: read the last "=" (below)
            return _committed_number(clause, nums)
    # Bare mentions (docs/extraction.md, "Commitment"): only in a short output or the finished
    # last sentence, never in a repetition loop.
    found = _number_in_cue(t, low, _HAVE_CUE, max_offset=0, alone=True)  # "I have 8", not "I have an apple, ..."
    if found is not False and found[1] is not None and _bare_mention_ok(t, found[0], found[0] + 1):
        return found[1]
    eq = t.rfind("=")
    if eq >= 0:
        nums = _numbers(t[eq + 1:eq + 31].lstrip())
        if nums and nums[0][0] == 0 and _bare_mention_ok(t, eq, eq + 1):
            return nums[0][1]
    # The only number written in digits ("That makes 8 instruments."); number words alone are
    # too often part of an echoed question ("I have a couch, two microwaves, ...").
    if whole and len({v for _, v in whole}) == 1 and t[whole[0][0]:whole[0][0] + 1] in "-0123456789" \
            and any(_bare_mention_ok(t, p, p + 1) for p, _ in whole):
        return whole[0][1]
    return None


def _number_official(text: str, options: Options = None) -> str | None:
    """lm-eval BBH flexible-extract: the first integer in the response."""
    m = re.search(r"-?\d+", (text or "").translate(_UNICODE_FIXES))
    return str(int(m.group(0))) if m else None


def _number_normalize(target: str) -> str:
    s = _norm_text(target).lstrip("+")
    nums = _numbers(s)
    if len(nums) == 1 and nums[0][0] == 0 and (_DIGITS.fullmatch(s.lstrip("-")) or _NUMBER_WORD.fullmatch(s)):
        return nums[0][1]
    return s


# ---------------------------------------------------------------------------------------------
# Dyck: the closing bracket sequence, e.g. "] ) }"
# ---------------------------------------------------------------------------------------------

_BRACKETS = "()[]{}<>"
_BRACKET_RUN = re.compile(r"[()\[\]{}<>](?:[\s,`'\"]*[()\[\]{}<>])*")
_DYCK_CUE = _Spots(
    r"(?:answer\s*(?:is|:)|(?:sequence|completion|output|closing\s+(?:brackets|parentheses|sequence)|"
    r"rest(?:\s+of\s+the\s+sequence)?)\s*(?:is|would\s+be|are|:)|is\s*:|(?:giving|gives|we\s+get))\s*",
    ("answer", "sequence", "completion", "output", "closing", "rest", "is", "giving", "gives", "we get"),
    after=60,
)
_DYCK_RUN_ENDS = re.compile(r"[\s`'\"*]*(?:[.!,;]|\n|$)")
_DYCK_GAP = re.compile(r"[ \t\n`'\"*:]*")
_DYCK_ALTERNATIVE = re.compile(r"[\s`'\"*]*(?:,?\s*or|/)\s*[`'\"*]*\s*[()\[\]{}<>]", re.IGNORECASE)
_LINE_LABEL = re.compile(r"^[\s*#]*(?:[^\n:()\[\]{}<>]{1,60}:)?")


def _dyck_tokens(s: str) -> str:
    return " ".join(ch for ch in s if ch in _BRACKETS)


def _dyck_robust(text: str, options: Options = None) -> str | None:
    t = _prepare(text)
    if not t:
        return None
    low = _lower(t)
    # "the answer is" always; the weaker cues ("is:", "giving", "the sequence is") only where
    # the brackets end the sentence and the output is not cut off mid-reasoning
    weak = [] if _cut_off(t) else [(m, True) for m in _DYCK_CUE.finditer(t, low)]
    cues = sorted([*((m, False) for m in _ANSWER_CUE.finditer(t, low)), *weak], key=lambda c: c[0].end())
    for m, is_weak in reversed(cues):
        pos = _DYCK_GAP.match(t, m.end()).end()
        run = _BRACKET_RUN.match(t, pos)
        if run and is_weak and not _DYCK_RUN_ENDS.match(t, run.end()):
            continue
        if run and _in_loop(t, run.start(), run.end()):
            return None  # "The sequence is:\n( )\n{ )\n{ )\n{ )\n..."
        if run:
            # "the answer is ) ] or ] )" names two sequences: unparsed
            return None if _DYCK_ALTERNATIVE.match(t, run.end()) else _dyck_tokens(run.group(0))
    # A line that holds nothing but brackets (after an optional "Label:"): the output's last
    # line, or any line of a short output (docs/extraction.md, "Commitment"); never a line
    # inside a repetition loop ("[ ( [ ( [ ( ...").
    lines = t.split("\n")
    offset = len(t)
    for k, line in enumerate(reversed(lines)):
        offset -= len(line) + (1 if k else 0)
        body = _LINE_LABEL.sub("", line).strip(" \t`'\".*")
        if body and all(ch in _BRACKETS or ch in " ,`'\"" for ch in body):
            if _in_loop(t, offset, offset + len(line)) or (k and len(t) > SHORT_OUTPUT):
                return None
            return _dyck_tokens(body)
        if k == 0 and len(t) > SHORT_OUTPUT and line.strip():
            return None
    return None


def _dyck_official(text: str, options: Options = None) -> str | None:
    """lm-eval BBH flexible-extract: the first run of bracket characters."""
    m = _BRACKET_RUN.search(text or "")
    return _dyck_tokens(m.group(0)) if m else None


# ---------------------------------------------------------------------------------------------
# Word lists (word_sorting): lower-case words separated by single spaces
# ---------------------------------------------------------------------------------------------

_WORD_CUE = _Spots(
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
    words = [_BOLD.sub("", w).strip(" .;:!?\"'`()[]").lower() for w in words]
    words = [w for w in words if w]
    if not words or not all(_WORD_TOKEN.match(w) for w in words):
        return None
    return " ".join(words)


def _word_list_robust(text: str, options: Options = None) -> str | None:
    t = _prepare(text)
    if not t:
        return None
    low = _lower(t)
    cues = _WORD_CUE.finditer(t, low)
    if cues:
        rest = t[cues[-1].end():]
        words = _words_from(re.split(r"\n\s*\n", rest.strip(), maxsplit=1)[0])
        return None if words and _two_lists(words) else words
    if _REFUSAL.search(t, low):
        return None
    # A list made of items, or the answer alone on the first or last paragraph; not a
    # repetition loop ("apple banana apple banana ..."), not two lists offered as alternatives.
    paragraphs = [m for m in re.finditer(r"\S(?:.|\n(?!\s*\n))*", t)]
    for p in (paragraphs[0], paragraphs[-1]):
        if _PROSE.search(p.group(0).strip()):
            continue  # a sentence of reasoning ("we look at the first letters: zebra (z), ...") is not a list
        words = _words_from(p.group(0))
        if words and not _in_loop(t, p.start(), p.end()):
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


# ---------------------------------------------------------------------------------------------
# Exact (fallback for tasks without a family)
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Registry and public API
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Family:
    """How one answer family is extracted and compared."""

    robust: Callable[[str, Options], str | None]
    official: Callable[[str, Options], str | None]
    normalize: Callable[[str], str]
    description: str


def _labels(ls: _LabelSet, description: str) -> Family:
    return Family(lambda text, options=None: _label_robust(ls, text),
                  lambda text, options=None: _label_official(ls, text),
                  lambda target: _label_normalize(ls, target), description)


FAMILIES: dict[str, Family] = {
    "mc": Family(_mc_robust, _mc_official, _mc_normalize, "option letter, e.g. B"),
    "true_false": _labels(_TRUE_FALSE, "True or False"),
    "yes_no": _labels(_YES_NO, "Yes or No"),
    "valid_invalid": _labels(_VALID_INVALID, "valid or invalid"),
    "number": Family(_number_robust, _number_official, _number_normalize, "an integer, e.g. -42"),
    "dyck": Family(_dyck_robust, _dyck_official, _dyck_tokens, "closing brackets, e.g. ] ) }"),
    "word_list": Family(_word_list_robust, _word_list_official, _word_list_normalize,
                        "words separated by spaces"),
    "exact": Family(_exact_robust, _exact_official, _norm_text, "the answer text itself"),
}


def _family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise UserError(f"unknown answer family {name!r}; known: {', '.join(FAMILIES)}") from None


def extract_answer(text: str, family: str, options: Options = None) -> str | None:
    """Robust extraction (ours): the answer in the family's normal form, or None if the
    output states no single answer (empty, refusal, hedge, garbage, a repetition loop). Reads
    at most the first sentence and the last ANALYSED_TAIL characters of a long output."""
    return _family(family).robust(_analysed(text or ""), options)


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


def family_for_task(task: str) -> str:
    """`agieval/lsat-ar` -> "mc", `bbh/navigate` -> "yes_no"."""
    suite, _, name = task.partition("/")
    if suite == "agieval" and name:
        return AGIEVAL_FAMILY
    if suite == "bbh" and name in BBH_TASK_FAMILY:
        return BBH_TASK_FAMILY[name]
    raise UserError(f"unknown task {task!r}: expected agieval/<task> or bbh/<one of the 27 BBH tasks>")


def damaged_targets(docs_by_task) -> dict[str, list[str]]:
    """Gold targets of letter tasks that are not an option letter, per task (`bbh/...` or
    `agieval/...` -> docs). BBH split three comma-containing options into several
    ("Monsters, Inc" = "(A) Monsters" + "(B) Inc") and kept the joined text as the target;
    the official rule (a letter) can never score them, the robust one scores the stated text.
    Recorded in run.json under data.damaged_targets so a reader sees why official accuracy
    stays below 100 % there."""
    out: dict[str, list[str]] = {}
    for task, docs in docs_by_task.items():
        if family_for_task(task) != "mc":
            continue
        key = "label" if task.startswith("agieval/") else "target"
        bad = sorted({str(d[key]) for d in docs if len(_mc_normalize(str(d[key]))) != 1})
        if bad:
            out[task] = bad
    return out


_OPTIONS_BLOCK = re.compile(r"(?:^|\n)Options:\s*\n(.*)\Z", re.DOTALL)
_OPTION_LINE = re.compile(r"^\(([A-Z])\)\s?(.*)$")


def options_from_text(text: str) -> dict[str, str] | None:
    """Letter -> option text from a BBH input's "Options:\\n(A) ...\\n(B) ..." block;
    None where the options are not lettered ("- Yes\\n- No") or there are none."""
    block = _OPTIONS_BLOCK.search(text or "")
    if not block:
        return None
    options: dict[str, str] = {}
    last = None
    for line in block.group(1).split("\n"):
        m = _OPTION_LINE.match(line.strip())
        if m:
            last = m.group(1)
            options[last] = m.group(2).strip()
        elif last and line.strip():
            options[last] += " " + line.strip()
    return options or None


_AGIEVAL_MARKER = re.compile(r"^\s*(?:\(([A-Z])\)|([A-Z])(?:\?|\s|\.\s|\)|:)\s*)")


def options_from_agieval(options_list) -> dict[str, str] | None:
    """Letter -> option text from AGIEval's ["(A)text", "(B)text", ...]. A few LogiQA items
    write "A text", "A? text" or drop the marker; those take their position's letter."""
    if options_list is None or options_list == []:
        return None
    if not isinstance(options_list, list) or not all(isinstance(o, str) for o in options_list):
        raise UserError(f"AGIEval options must be a list of strings, got {type(options_list).__name__}: "
                        f"{str(options_list)[:80]}")
    options: dict[str, str] = {}
    for i, raw in enumerate(options_list):
        positional = chr(ord("A") + i)
        m = _AGIEVAL_MARKER.match(raw)
        if m and m.group(1):
            letter, body = m.group(1), raw[m.end():]
        elif m and m.group(2) == positional:  # "A No dangshen" but not "When the land ..."
            letter, body = positional, raw[m.end():]
        else:
            letter, body = positional, raw
        if letter in options:  # a duplicated marker: fall back to the position
            letter = positional
        options[letter] = body.strip()
    return options
