"""The `mc` answer family: an option letter ("B"), for all AGIEval tasks and the BBH tasks
with lettered options. The robust rule reads a stated answer ("the answer is (B)", "B is
correct"), then weaker choices ("I would choose B", "**B**", "So B."), an answer given first,
a single marked option, and last the option's text without its letter; the official rule is
the first capital letter A-F (AGIEval, Orca). The robust rule's steps are `_McSteps`; their
order, and why it differs from the label families', is in cascade.py."""
from __future__ import annotations

import functools
import re

from harness.extract.commitment import (
    BREAK, NEGATED, agree_in_loop, bare_mention_ok, cut_off, final_sentence, in_loop, statement_end,
)
from harness.extract.cascade import NEXT, run_cascade
from harness.extract.cues import ANSWER_CUE, CONCLUSION_CUE, REFUSAL, Spots
from harness.extract.option_text import option_from_statement, option_prefix, strip_echo
from harness.extract.options import Options
from harness.extract.registry import Family, register
from harness.extract.text import (
    SENTENCE_END, UNICODE_FIXES, clause, clause_end, lower, norm_text, prepare, sentences,
)

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
_LETTER_IS_CORRECT = Spots(
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


_CHOOSE = Spots(
    r"\b(?:i\s+(?:would|will|'d|'ll)\s+(?:choose|select|pick|go\s+with|say)|i\s+(?:choose|select|pick)|"
    r"(?:choose|select|pick|go\s+with)\s+(?=[\(\[]|option|choice|[A-Z]\b))",
    ("choose", "select", "pick", "go with", "say"), before=12, after=30,
)
_BOLD_LETTER = Spots(
    r"(?:\*\*|__)\s*(?:(?:options?|choices?|answer)\s*:?\s*)?[\(\[]?(?P<l>[A-Z])[\)\]]?[.:]?\s*(?:\*\*|__)"
    r"|(?:\*\*|__)\s*[\(\[](?P<p>[A-Z])[\)\]]",
    ("**", "__"), after=30, flags=0,
)
_MARKER = Spots(
    r"(?:[\(\[](?P<p>[A-Za-z])[\)\]]|\b(?i:option|choice)\s*[\(\[]?(?P<o>[A-Z])\b[\)\]]?)(?![A-Za-z0-9])",
    ("(", "[", "option", "choice"), after=12, flags=0,
)
_LEADING = re.compile(
    r"^(?:\s|#+|>|\*\*|__|[-*]\s)*(?i:(?:final\s+)?answer\s*:\s*)?(?:\*\*|__)?\s*"
    r"(?P<x>(?i:(?:options?|choices?)\s*)?(?:[\(\[]\s*[A-Za-z]\s*[\)\]]|[A-Z](?=$|[\s.,:;)\-!*])))"
)
_EITHER = Spots(
    r"\b(?i:either|both)\s+(?i:options?\s+|choices?\s+)?[\(\[]?[A-Z][\)\]]?\s+(?i:or|and)\s+"
    r"(?i:options?\s+|choices?\s+)?[\(\[]?[A-Z][\)\]]?(?![A-Za-z])"
    r"|[\(\[][A-Z][\)\]]\s*(?:or|/)\s*[\(\[][A-Z][\)\]]",
    ("either", "both", ") or", ")/", "] or"), before=4, after=50, flags=0,
)


def _article_or_variable(text: str, letter: str, after: int) -> bool:
    """Whether a bare capital `letter` that ends at `after` is the article / pronoun ("A dog
    ...", "I think ...") or a variable ("B = 4") rather than an option letter."""
    if letter in "AI":
        word = _NEXT_WORD.match(text, after)
        if word and word.group(1) not in _LETTER_FOLLOWERS:
            return True
    return _ALGEBRA.match(text, after) is not None


def _letter_after(text: str, pos: int, valid: frozenset[str]) -> tuple[str | None, bool]:
    """(letter, hedged) for a letter stated at `pos`; (None, False) if none is there."""
    m = _LETTER_AT.match(text, pos)
    if not m:
        return None, False
    if m.group("pl"):
        letter = m.group("pl").upper()
    else:
        letter = m.group("bare")
        if _article_or_variable(text, letter, m.end("bare")):
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
            if _article_or_variable(t, letter, m.end()):
                continue
        if letter not in valid or NEGATED.search(t, max(0, m.start() - 16), m.start()):
            continue
        out.add(letter)
        if options and letter in options:
            # the option's own text after its letter is part of naming it; another option's
            # text there ("(C) rainmman" where rainmman is (D)) names that option too
            gap = _GAP.match(t, pos).end()
            for other in sorted(options, key=lambda k: k != letter):
                body = options[other].translate(UNICODE_FIXES).strip().strip("$").strip()  # "$70" is written 70
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
    end = statement_end(t, after, clause_end(t, after, limit))
    return len(_mc_candidates(t, start, end, valid, options)[0]) <= 1


_QA_LABEL = re.compile(r"\s*[QA]:(?:[ \t]+(?=\S)|\s*$)")
_LETTER_LINE = re.compile(r"^\s*(?:\*\*|__)?\s*[\(\[]?([A-Z])[\)\]]?\s*[.:]?\s*(?:\*\*|__)?\s*$", re.MULTILINE)


def _mc_robust(text: str, options: Options = None) -> str | None:
    t = prepare(text)
    if not t:
        return None
    return run_cascade("mc", _McSteps(t, options))


class _McSteps:
    """The `mc` steps of the robust cascade (harness/extract/cascade.py, which orders them)."""

    def __init__(self, t: str, options: Options):
        self.t, self.options = t, options
        self.low = lower(t)
        self.valid = frozenset(options) if options else _ALL_LETTERS

    @functools.cached_property
    def body(self) -> str:
        """The output without an echoed options list, nor the "A:" label of a "Q: ... A:" prompt."""
        body = strip_echo(self.t, self.options, self.valid)
        qa = _QA_LABEL.match(body)  # "A: ..." in a "Q: ... A:" prompt is a label, not option A
        return body[qa.end():] if qa else body

    @functools.cached_property
    def body_low(self) -> str:
        return self.low if self.body is self.t else lower(self.body)

    def stated(self):
        """A stated answer: the last "answer is X" / "X is correct" wins ("Option A is wrong
        because ... so the answer is (C)"); a hedge there, or a second option named in it
        ("the answer is (A) and (B)"), makes the output unparseable."""
        t, low, valid, options = self.t, self.low, self.valid, self.options
        stated: list[tuple[int, str | None]] = []
        text_clauses: list[str] = []
        for m in ANSWER_CUE.finditer(t, low):
            letter, hedged = _letter_after(t, m.end(), valid)
            prefix = None
            if letter and options and t[m.end():m.end() + 1].isalpha():
                # "The answer is A Brazilian teacher ...": an option's text that begins with a letter
                prefix = option_prefix(clause(t, m.end(), 400), options)
                letter = prefix or letter
            if letter and not prefix and not _mc_single(t, m.end(), _LETTER_AT.match(t, m.end()).end(),
                                                               valid, options):
                letter, hedged = None, True
            if letter or hedged:
                stated.append((m.start(), letter))
            else:
                line_end = t.find("\n", m.end(), m.end() + 400)
                text_clauses.append((clause(t, m.end()), t[m.end():line_end if line_end >= 0 else m.end() + 400]))
        for m in _LETTER_IS_CORRECT.finditer(t, low):
            letter = m.group("a") or m.group("b") or m.group("c")
            if letter in valid and not NEGATED.search(t, max(0, m.start() - 16), m.start()):
                stated.append((m.start(), letter))
        stated = agree_in_loop(t, stated)
        if stated:
            return max(stated, key=lambda s: s[0])[1]
        if options:
            for sentence, line in reversed(text_clauses[-8:]):  # "The answer is Frankenstein."; the last ones
                mapped = option_from_statement(sentence, options) or option_from_statement(line, options)
                if mapped:
                    return mapped
        return NEXT

    def choice(self):
        """Weaker explicit choices: "I would choose (B)", "**B**", "So A."; not inside a
        repetition loop, and naming one option only."""
        t, low, valid, options = self.t, self.low, self.valid, self.options
        weak = []
        for m in _CHOOSE.finditer(t, low):
            letter, hedged = _letter_after(t, m.end(), valid)
            if letter and not _mc_single(t, m.end(), _LETTER_AT.match(t, m.end()).end(), valid, options):
                letter, hedged = None, True
            if (letter or hedged) and not in_loop(t, m.start()):
                weak.append((m.start(), letter))
        for m in _BOLD_LETTER.finditer(t, low):
            letter = m.group("l") or m.group("p")
            if letter in valid and not in_loop(t, m.start()):
                weak.append((m.start(), letter if _mc_single(t, m.start(), m.end(), valid, options) else None))
        for m in ([] if cut_off(t) else CONCLUSION_CUE.finditer(t, low)):  # "So A.", "Therefore, (C)."
            letter, hedged = _letter_after(t, m.end(), valid)
            if (letter or hedged) and _ENDS_SENTENCE.match(t, _LETTER_AT.match(t, m.end()).end()) \
                    and not in_loop(t, m.start()):
                weak.append((m.start(), letter))
        if not weak:
            return NEXT
        last = max(weak, key=lambda s: s[0])
        sentence_start = max((b.end() for b in BREAK.finditer(t, max(0, last[0] - 200), last[0])), default=0)
        if any(s[1] != last[1] for s in weak if s[0] >= sentence_start):
            return None  # "**(A)** and **(C)**"
        return last[1]

    def refusal(self):
        return None if REFUSAL.search(self.t, self.low) or _EITHER.search(self.t, self.low) else NEXT

    def first(self):
        """The answer given first: "(B) The specialist ...", "B.", "B", "Option C - ...", or a
        line holding nothing but a letter; its first statement must name one option only
        ("(A) and (B) are both sarcastic." is not an answer), and not start a repetition loop."""
        body, valid = self.body, self.valid
        m = _LEADING.match(body)
        if m and not _REJECTED_AFTER.match(body, m.end()) and not in_loop(body, m.start("x")):
            letter, hedged = _letter_after(body, m.start("x"), valid)
            if hedged or (letter and not _mc_single(body, m.start("x"), m.end(), valid, self.options)):
                return None
            if letter:
                return letter
        lines = {m.group(1) for m in _LETTER_LINE.finditer(body) if not in_loop(body, m.start(), m.end())} & valid
        if len(lines) == 1:
            return lines.pop()
        return NEXT

    def marked(self):
        """Bare mentions (docs/extraction.md, "Commitment"): exactly one option marked in the
        whole output, "I believe (C) fits best.", where the output is short or the mark is in
        its finished last sentence, and not inside a repetition loop."""
        body = self.body
        marks = [(m, (m.group("p") or m.group("o")).upper()) for m in _MARKER.finditer(body, self.body_low)]
        marked = {letter for _, letter in marks} & self.valid
        if len(marked) == 1:
            return marked.pop() if any(bare_mention_ok(body, m.start(), m.end()) for m, _ in marks) else None
        if marked or not self.options:
            return None
        return NEXT

    def option_text(self):
        """The option's text without its letter: the whole short answer, or its finished last
        sentence; questions ("What is the date today?") do not count."""
        body, options = self.body, self.options
        sents = [s for s in sentences(body) if not s.endswith("?")]
        statement = " ".join(sents)
        if len(statement) <= 200 and not in_loop(body, 0, len(body)):
            mapped = option_from_statement(statement, options)
            if mapped:
                return mapped
        # the first sentence, where it states an option's text (answer first: "The antecedent of
        # the pronoun ... is ambiguous."), then the finished last sentence
        first = next((x for x in SENTENCE_END.split(body) if x.strip()), "").strip()
        if first and not first.endswith("?") and len(first) <= 200 and not in_loop(body, 0, len(first)):
            mapped = option_from_statement(first, options)
            if mapped:
                return mapped
        start, end, finished = final_sentence(body)
        if sents and finished and bare_mention_ok(body, start, end):
            return option_from_statement(sents[-1], options)
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
    s = norm_text(target).strip("()[]{} ")
    if len(s) == 1 and s.isalpha():
        return s.upper()
    return norm_text(target)


register("mc", Family(_mc_robust, _mc_official, _mc_normalize, "option letter, e.g. B"))
