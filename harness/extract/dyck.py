"""The `dyck` answer family: the closing bracket sequence, separated by single spaces ("] ) }"),
for dyck_languages. The robust rule reads the brackets after an answer cue, then a line that
holds nothing but brackets; the official rule is the first run of brackets (lm-eval BBH
flexible-extract)."""
from __future__ import annotations

import re

from harness.extract.commitment import SHORT_OUTPUT, cut_off, in_loop
from harness.extract.cues import ANSWER_CUE, Spots
from harness.extract.options import Options
from harness.extract.registry import Family, register
from harness.extract.text import lower, prepare

_BRACKETS = "()[]{}<>"
_BRACKET_RUN = re.compile(r"[()\[\]{}<>](?:[\s,`'\"]*[()\[\]{}<>])*")
_DYCK_CUE = Spots(
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
    t = prepare(text)
    if not t:
        return None
    low = lower(t)
    # "the answer is" always; the weaker cues ("is:", "giving", "the sequence is") only where
    # the brackets end the sentence and the output is not cut off mid-reasoning
    weak = [] if cut_off(t) else [(m, True) for m in _DYCK_CUE.finditer(t, low)]
    cues = sorted([*((m, False) for m in ANSWER_CUE.finditer(t, low)), *weak], key=lambda c: c[0].end())
    for m, is_weak in reversed(cues):
        pos = _DYCK_GAP.match(t, m.end()).end()
        run = _BRACKET_RUN.match(t, pos)
        if run and is_weak and not _DYCK_RUN_ENDS.match(t, run.end()):
            continue
        if run and in_loop(t, run.start(), run.end()):
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
            if in_loop(t, offset, offset + len(line)) or (k and len(t) > SHORT_OUTPUT):
                return None
            return _dyck_tokens(body)
        if k == 0 and len(t) > SHORT_OUTPUT and line.strip():
            return None
    return None


def _dyck_official(text: str, options: Options = None) -> str | None:
    """lm-eval BBH flexible-extract: the first run of bracket characters."""
    m = _BRACKET_RUN.search(text or "")
    return _dyck_tokens(m.group(0)) if m else None


register("dyck", Family(_dyck_robust, _dyck_official, _dyck_tokens, "closing brackets, e.g. ] ) }"))
