"""Score one model output against one example of a task, with both extractors. The task
(harness/suites/ `Task`) brings its answer family, target and options."""
from __future__ import annotations

from typing import TYPE_CHECKING

from harness import extract

if TYPE_CHECKING:
    from harness.suites.base import Task


def score_output(task: Task, doc: dict, output: str) -> dict:
    """`extracted`, `target`, `correct` (robust) and the official extractor's pair."""
    family, options, target = task.family, task.options(doc), task.target(doc)
    robust = extract.extract_answer(output, family, options)
    official = extract.extract_official(output, family, options)
    return {
        "extracted": robust,
        "target": target,
        "correct": extract.is_correct(robust, target, family),
        "extracted_official": official,
        "correct_official": extract.is_correct(official, target, family),
    }


def unscorable_target(task: Task, doc: dict) -> str | None:
    """Why no answer could ever be scored right for this example (None: some can): the
    target stated verbatim is not credited (a "Maybe" in a Yes/No task), or it is an option
    letter the example does not have. Damaged targets that state an option's text (see
    harness/data.py `damaged_targets`) are credited by the robust extractor and pass."""
    family, options, target = task.family, task.options(doc), str(task.target(doc))
    norm = extract.normalize_target(target, family)
    if family == "mc" and len(norm) == 1 and options and norm not in options:
        return f"option ({norm}) is not among its options ({', '.join(options)})"
    if not score_output(task, doc, target)["correct"]:
        return f"not a {extract.FAMILIES[family].description} answer" if family in extract.FAMILIES else \
            "not an answer its extractor can give"
    return None
