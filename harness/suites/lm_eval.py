"""lm-eval's side of the task YAML: what its `!function utils.NAME` tags name (each
`tasks/<suite>/utils.py` re-exports these), one implementation for every suite. lm-eval
scores with exact_match, so both the target and the filtered answer are given in the
answer family's normal form: exact_match(filtered, target) is then exactly
`extract.is_correct` as `orca-eval score` applies it.

lm-eval hands each function a dataset row of harness.data's loader: the example's fields
plus `task` (its key) and `doc_id`."""
from __future__ import annotations

from harness import extract
from harness.data import load_lm_eval_dataset as load_dataset
from harness.suites import get_task

__all__ = ["doc_to_target", "doc_to_text", "load_dataset", "official_filter", "robust_filter"]


def doc_to_text(doc: dict) -> str:
    """The user turn of the Orca protocol (the `orca` prompt style)."""
    return get_task(doc["task"]).prompt(doc)


def doc_to_target(doc: dict) -> str:
    task = get_task(doc["task"])
    return extract.normalize_target(task.target(doc), task.family)


def answer_filter(extractor):
    """A custom lm-eval filter: each response -> the extracted answer in normal form, "" when none."""
    def apply(resps, docs):
        out = []
        for rs, doc in zip(resps, docs):
            task = get_task(doc["task"])
            family, options = task.family, task.options(doc)
            answers = (extractor(r, family, options) for r in rs)
            out.append(["" if a is None else extract.normalize_target(a, family) for a in answers])
        return out
    return apply


robust_filter = answer_filter(extract.extract_answer)
official_filter = answer_filter(extract.extract_official)
