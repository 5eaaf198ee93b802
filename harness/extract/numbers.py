"""The `number` answer family: an integer ("-42"; "1,234" -> "1234", "24.0" -> "24", "eight" ->
"8"), for multistep_arithmetic_two and object_counting. The robust rule reads a stated answer
or total, a number given first, a conclusion, then the result of the last "=" or the only
number; the official rule is the first integer (lm-eval BBH flexible-extract)."""
from __future__ import annotations

import re

from harness.extract.commitment import STATEMENT_CUT, bare_mention_ok, cut_off, in_loop, statement_end
from harness.extract.cues import ANSWER_CUE, CONCLUSION_CUE, REFUSAL, Spots
from harness.extract.options import Options
from harness.extract.registry import Family, register
from harness.extract.text import BOLD, UNICODE_FIXES, clause, lower, norm_text, prepare

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
         if i >= 2}
_DIGITS = re.compile(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?")
_NUMBER_WORD = re.compile(
    r"\b(?P<neg>negative\s+|minus\s+)?(?P<word>(?:" + "|".join(_TENS) + r")(?:[\s-](?:"
    + "|".join(list(_UNITS)[1:10]) + r"))?|" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")\b")
_NUMBER_CUE = Spots(
    r"\b(?:result|total|sum|count|value|number(?:\s+of\s+[a-z]+(?:\s+[a-z]+)?)?|final\s+count)"
    r"\s*(?:is|was|would\s+be|will\s+be|comes\s+to|equals|of|=|:)\s*(?:therefore\s+|then\s+)?",
    ("result", "total", "sum", "count", "value", "number"), after=60,
)
_HAVE_CUE = Spots(r"\b(?:you|i|we|there)\s+(?:have|has|are|is)\s+(?:a\s+total\s+of\s+)?",
                   ("you", "i ", "we", "there"), after=40)
_LIST_MARKER = re.compile(r"^\d+[.)]\s+\S")
_CALCULATION = re.compile(r"\d\s*[-+*/=x×]\s*[-\d(]")


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


_NUMBER_STATEMENT_CUT = re.compile(STATEMENT_CUT.pattern.replace(r"|\s-\s", "") + r"|\(", re.IGNORECASE)


def _committed_number(clause: str, nums) -> str | None:
    """The one number a stated answer gives: after its last "=" where it states a
    calculation ("46 - 22 = 24"), else its first number if it names no other one ("7 or 8",
    "8 apples and 3 pears"); an explanation after it ("8, since 3 + 5 = 8", "8 (3 + 5)")
    does not count."""
    end = statement_end(clause, nums[0][0] + 1, len(clause), _NUMBER_STATEMENT_CUT)
    stated = [(p, v) for p, v in nums if p < end]
    eq = clause.rfind("=", 0, end)
    if eq >= 0:
        after = [v for p, v in stated if p > eq]
        if after and not (len(set(after)) > 1 and re.search(r"\b(?:or|either)\b", clause[eq:end], re.I)):
            return after[0]
        if after:
            return None
    return stated[0][1] if len({v for _, v in stated}) == 1 else None


def _number_in_cue(t: str, low: str, cue: Spots, max_offset: int = 12, alone: bool = False):
    """(position, number) stated right after the last `cue` that has one, the number None
    where the statement names several ("either 7 or 8"); False where no cue states a number."""
    for m in reversed(cue.finditer(t, low)):
        stated = clause(t, m.end(), 80)
        nums = _numbers(stated)
        if nums and nums[0][0] <= max_offset:
            if alone and (len(nums) > 1 or "," in clause(t, m.end(), 400).split(":")[0]):
                continue  # a list of things ("I have two beds, a stove, ..."), not a count
            return m.start(), _committed_number(stated, nums)
    return False


def _number_robust(text: str, options: Options = None) -> str | None:
    t = BOLD.sub("", prepare(text))
    if not t:
        return None
    low = lower(t)
    # "the answer is" always; "the total is", "the number of fruits is" are steps of the
    # reasoning where the output is cut off before its end
    for cue in (ANSWER_CUE,) if cut_off(t) else (ANSWER_CUE, _NUMBER_CUE):
        found = _number_in_cue(t, low, cue)
        if found is not False:
            return found[1]
    if REFUSAL.search(t, low):
        return None
    whole = _numbers(t)
    # The answer first ("8\n\nExplanation: ...", "8 instruments."), not a list marker
    # ("1. First, ...") nor the start of a calculation ("(-1 + 2) = ...") nor a loop ("8 8 8 ...").
    if whole and whole[0][0] == len(t) - len(t.lstrip("*# ")) and not _LIST_MARKER.match(t) \
            and not in_loop(t, whole[0][0]):
        head = clause(t, 0, 40)
        if len({v for _, v in _numbers(head)}) == 1 and not _CALCULATION.search(head):
            return whole[0][1]
    for m in ([] if cut_off(t) else reversed(CONCLUSION_CUE.finditer(t, low))):
        if in_loop(t, m.start()):
            continue
        stated = clause(t, m.end(), 120)
        nums = _numbers(stated)
        if nums:
            if t.rfind("=") > m.end() + len(stated):
                break  # the calculation went on after it: read the last "=" (below)
            return _committed_number(stated, nums)
    # Bare mentions (docs/extraction.md, "Commitment"): only in a short output or the finished
    # last sentence, never in a repetition loop.
    found = _number_in_cue(t, low, _HAVE_CUE, max_offset=0, alone=True)  # "I have 8", not "I have an apple, ..."
    if found is not False and found[1] is not None and bare_mention_ok(t, found[0], found[0] + 1):
        return found[1]
    eq = t.rfind("=")
    if eq >= 0:
        nums = _numbers(t[eq + 1:eq + 31].lstrip())
        if nums and nums[0][0] == 0 and bare_mention_ok(t, eq, eq + 1):
            return nums[0][1]
    # The only number written in digits ("That makes 8 instruments."); number words alone are
    # too often part of an echoed question ("I have a couch, two microwaves, ...").
    if whole and len({v for _, v in whole}) == 1 and t[whole[0][0]:whole[0][0] + 1] in "-0123456789" \
            and any(bare_mention_ok(t, p, p + 1) for p, _ in whole):
        return whole[0][1]
    return None


def _number_official(text: str, options: Options = None) -> str | None:
    """lm-eval BBH flexible-extract: the first integer in the response."""
    m = re.search(r"-?\d+", (text or "").translate(UNICODE_FIXES))
    return str(int(m.group(0))) if m else None


def _number_normalize(target: str) -> str:
    s = norm_text(target).lstrip("+")
    nums = _numbers(s)
    if len(nums) == 1 and nums[0][0] == 0 and (_DIGITS.fullmatch(s.lstrip("-")) or _NUMBER_WORD.fullmatch(s)):
        return nums[0][1]
    return s


register("number", Family(_number_robust, _number_official, _number_normalize, "an integer, e.g. -42"))
