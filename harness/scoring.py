"""Score one model output against one example, with both extractors."""
from __future__ import annotations

from harness import extract


def task_family(task: str) -> str:
    suite, name = task.split("/", 1)
    return extract.AGIEVAL_FAMILY if suite == "agieval" else extract.BBH_TASK_FAMILY[name]


def task_options(task: str, doc: dict) -> dict[str, str] | None:
    """Letter -> option text, where the example has lettered options."""
    if task.startswith("agieval/"):
        return extract.options_from_agieval(doc["options"])
    return extract.options_from_text(doc["input"])


def task_target(task: str, doc: dict) -> str:
    return doc["label"] if task.startswith("agieval/") else doc["target"]


def score_output(task: str, doc: dict, output: str) -> dict:
    """`extracted`, `target`, `correct` (robust) and the official extractor's pair."""
    family, options, target = task_family(task), task_options(task, doc), task_target(task, doc)
    robust = extract.extract_answer(output, family, options)
    official = extract.extract_official(output, family, options)
    return {
        "extracted": robust,
        "target": target,
        "correct": extract.is_correct(robust, target, family),
        "extracted_official": official,
        "correct_official": extract.is_correct(official, target, family),
    }
