"""The phrases that introduce an answer ("the answer is", "so", "I'm sorry"), shared by every
answer family, and `Spots`, the windowed regex search they and the family cues are built on."""
from __future__ import annotations

import re


class Spots:
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
ANSWER_CUE = Spots(
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
CONCLUSION_CUE = Spots(
    r"\b(?:so|thus|therefore|hence|consequently|in\s+conclusion|to\s+conclude|in\s+summary|"
    r"overall|in\s+total|altogether|all\s+in\s+all|this\s+means)\b\s*,?\s*",
    ("so", "thus", "therefore", "hence", "consequently", "in conclusion", "to conclude", "in summary",
     "overall", "in total", "altogether", "all in all", "this means"), after=20,
)
REFUSAL = Spots(
    r"\b(?:i'?m\s+sorry|i\s+am\s+sorry|i\s+apologi[sz]e|as\s+an\s+ai\b|"
    r"i\s+(?:cannot|can't|can\s+not|am\s+unable\s+to|'m\s+unable\s+to|am\s+not\s+able\s+to|"
    r"do\s+not\s+have\s+enough|don't\s+have\s+enough|do\s+not\s+know|don't\s+know|'m\s+not\s+sure|"
    r"am\s+not\s+sure)|"
    r"(?:cannot|can't|can\s+not)\s+be\s+determined|impossible\s+to\s+(?:determine|say|tell)|"
    r"not\s+enough\s+information|insufficient\s+information|no\s+(?:correct|right)\s+(?:answer|option))",
    ("sorry", "apologi", "as an ai", "cannot", "can't", "can not", "unable", "not able", "enough", "know",
     "not sure", "impossible", "insufficient", "no correct", "no right"), before=12, after=40,
)
