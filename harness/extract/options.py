"""The lettered options of a multiple-choice question, read from a BBH input's "Options:"
block or from AGIEval's options list. The extractors take them as `Options`."""
from __future__ import annotations

import re

from orca.errors import UserError

# Letter -> option text; None for a question without lettered options.
Options = dict[str, str] | None

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
