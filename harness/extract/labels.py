"""The label families: `true_false` (True / False), `yes_no` (Yes / No) and `valid_invalid`
(valid / invalid). One `_LabelSet` per family says which phrases state which label ("is
lying" states No, "not valid" states invalid); the robust rule reads a stated answer, an
answer given first, a conclusion, then bare statements; the official rule is the first bare
label (lm-eval BBH flexible-extract). The robust rule's steps are `_LabelSteps`; their order,
and why it differs from `mc`'s, is in cascade.py."""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from harness.extract.commitment import (
    NEGATED, SHORT_OUTPUT, agree_in_loop, cut_off, final_sentence, in_loop, statement_end,
)
from harness.extract.cascade import NEXT, run_cascade
from harness.extract.cues import ANSWER_CUE, CONCLUSION_CUE, REFUSAL
from harness.extract.registry import Family, register
from harness.extract.text import BOLD, SENTENCE_END, clause_end, lower, norm_text, prepare


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


def _label_single(ls: _LabelSet, low: str, found, end_at: int):
    """The label the answer stated by found[0] gives, up to the end of its statement; None
    where the statement names two labels ("the answer is No, the sentence is plausible") or
    offers them as alternatives ("True or False"). A label after "not" or "rather than" is
    a contrast, not a second answer ("valid, not invalid")."""
    if ls.hedged(low, found):
        return None
    end = statement_end(low, found[0][1], end_at)
    named = [x for x in found if x[0] < end and (x is found[0] or not NEGATED.search(low, max(0, x[0] - 16), x[0]))]
    return _one(named)


def _label_robust(ls: _LabelSet, text: str) -> str | None:
    t = BOLD.sub("", prepare(text))
    if not t:
        return None
    return run_cascade("labels", _LabelSteps(ls, t))


class _LabelSteps:
    """The label families' steps of the robust cascade (harness/extract/cascade.py, which
    orders them)."""

    def __init__(self, ls: _LabelSet, t: str):
        self.ls, self.t = ls, t
        self.low = lower(t)
        self.mentions = ls.mentions(self.low)
        self.statements = ls.statements(self.low, self.mentions)

    def stated(self):
        """Stated answer; the last one wins; two labels in it ("True or False", "No, it is
        plausible") make it unparsed, as do two different ones inside a repetition loop."""
        ls, t, low, mentions, statements = self.ls, self.t, self.low, self.mentions, self.statements
        stated = []
        for m in ANSWER_CUE.finditer(t, low):
            end = clause_end(t, m.end(), 80)
            i = bisect.bisect_left(mentions, (m.end(),))
            if i < len(mentions) and mentions[i][1] <= end:
                # "True" / "valid" always name a label; "no" may be a determiner ("no reason")
                named = statements if ls.bare_needs_end else mentions
                found = [mentions[i]] + [x for x in named[bisect.bisect_right(named, mentions[i]):] if x[1] <= end]
                hedge = ls.hedged(low, [x for x in mentions[i:i + 8] if x[1] <= end])  # "Yes and no"
                stated.append((m.start(), None if hedge else _label_single(ls, low, found, end)))
        stated = agree_in_loop(t, stated)
        if stated:
            return max(stated, key=lambda s: s[0])[1]
        return NEXT

    def refusal(self):
        if (not self.statements and REFUSAL.search(self.t, self.low)) or self.ls.hedged(self.low, self.mentions):
            return None
        return NEXT

    def first(self):
        """Answer first: "No, the sentence ...", "True." (not the start of a repetition loop)."""
        t, low, mentions = self.t, self.low, self.mentions
        lead = len(t) - len(t.lstrip(" \t\n#>*\"'([")) if t[0] in " \t\n#>*\"'([" else 0
        if mentions and mentions[0][0] == lead and not _OPERATOR_AFTER.match(low, mentions[0][1]) \
                and not in_loop(t, lead):
            first_end = clause_end(t, lead, 160)
            return _label_single(self.ls, low,
                                 [mentions[0]] + [x for x in self.statements if mentions[0][1] <= x[0] < first_end],
                                 first_end)
        return NEXT

    def conclusion(self):
        """Conclusion: "Therefore, the argument is invalid."; the last statement in the last one
        outside a repetition loop; two different labels there (not counting phrases about
        other people: "so Alexis lies and Elanor tells the truth") make it unparsed."""
        t, low, statements = self.t, self.low, self.statements
        for m in ([] if cut_off(t) else reversed(CONCLUSION_CUE.finditer(t, low))):
            if in_loop(t, m.start()):
                continue
            end = clause_end(t, m.end(), 120)
            found = [x for x in statements if m.end() <= x[0] < end]
            if found:
                strong = [x for x in found if not x[4]]
                if strong and _label_single(self.ls, low, strong, end) is None:
                    return None
                if any(x[2] != found[-1][2] for x in statements if x[0] >= end and not x[4]):
                    break  # the reasoning went on to another label: read the last sentence (bare)
                return found[-1][2]
        return NEXT

    def bare(self):
        """Bare statements (docs/extraction.md, "Commitment"), outside repetition loops. A short
        output: if they all agree, that label; otherwise the first sentence's, then the last
        sentence's. A longer one: the first sentence's (answer first), then the finished last
        sentence's; a label in the middle of a long text is not an answer."""
        t = self.t
        statements = [x for x in self.statements if not in_loop(t, x[0], x[1])]
        ends = [m.start() for m in SENTENCE_END.finditer(t)] + [len(t)]
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
        s, e, finished = final_sentence(t)
        if short or finished:
            return _one([x for x in statements if s <= x[0] < e])
        return None


def _label_official(ls: _LabelSet, text: str) -> str | None:
    m = ls._official.search(text or "")
    return _label_normalize(ls, m.group(1)) if m else None


def _label_normalize(ls: _LabelSet, target: str) -> str:
    s = norm_text(target).strip("()[]")
    for label in ls.labels:
        if s == label.casefold():
            return label
    return s


def _labels(ls: _LabelSet, description: str) -> Family:
    return Family(lambda text, options=None: _label_robust(ls, text),
                  lambda text, options=None: _label_official(ls, text),
                  lambda target: _label_normalize(ls, target), description)


register("true_false", _labels(_TRUE_FALSE, "True or False"))
register("yes_no", _labels(_YES_NO, "Yes or No"))
register("valid_invalid", _labels(_VALID_INVALID, "valid or invalid"))
