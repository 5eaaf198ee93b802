"""Score one model output against one example, with both extractors. Each task's answer
family, target field and options come from its definition in tasks/ (harness/taskdefs.py)."""
from __future__ import annotations

from harness import extract, taskdefs
from orca.errors import UserError


def task_def(task: str) -> taskdefs.TaskDef:
    try:
        return taskdefs.all_tasks()[task]
    except KeyError:
        raise UserError(f"unknown task {task!r}") from None


def task_family(task: str) -> str:
    return task_def(task).family


def task_options(task: str, doc: dict) -> dict[str, str] | None:
    """Letter -> option text, where the example has lettered options."""
    return taskdefs.suite_module(task_def(task).suite).doc_options(doc)


def task_target(task: str, doc: dict) -> str:
    return doc[taskdefs.suite_module(task_def(task).suite).TARGET_FIELD]


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


def unscorable_target(task: str, doc: dict) -> str | None:
    """Why no answer could ever be scored right for this example (None: some can): the
    target stated verbatim is not credited (a "Maybe" in a Yes/No task), or it is an option
    letter the example does not have. Damaged targets that state an option's text (see
    `damaged_targets`) are credited by the robust extractor and pass."""
    family, options, target = task_family(task), task_options(task, doc), str(task_target(task, doc))
    norm = extract.normalize_target(target, family)
    if family == "mc" and len(norm) == 1 and options and norm not in options:
        return f"option ({norm}) is not among its options ({', '.join(options)})"
    if not score_output(task, doc, target)["correct"]:
        return f"not a {extract.FAMILIES[family].description} answer" if family in extract.FAMILIES else \
            "not an answer its extractor can give"
    return None


def damaged_targets(docs_by_task) -> dict[str, list[str]]:
    """Gold targets of letter tasks that are not an option letter, per task (`bbh/...` or
    `agieval/...` -> docs). BBH split three comma-containing options into several
    ("Monsters, Inc" = "(A) Monsters" + "(B) Inc") and kept the joined text as the target;
    the official rule (a letter) can never score them, the robust one scores the stated text.
    Recorded in run.json under data.damaged_targets so a reader sees why official accuracy
    stays below 100 % there."""
    out: dict[str, list[str]] = {}
    for task, docs in docs_by_task.items():
        if task_family(task) != "mc":
            continue
        targets = {str(task_target(task, d)) for d in docs}
        bad = sorted(t for t in targets if len(extract.normalize_target(t, "mc")) != 1)
        if bad:
            out[task] = bad
    return out


# lm-eval's side (named by the task YAML through tasks/<suite>/utils.py). lm-eval scores
# with exact_match, so both the target and the filtered answer are given in the family's
# normal form: exact_match(filtered, target) is then exactly `is_correct` above.

def lm_eval_target(doc: dict) -> str:
    task = doc["task"]
    return extract.normalize_target(task_target(task, doc), task_family(task))


def lm_eval_filter(extractor):
    """A custom lm-eval filter: each response -> the extracted answer in normal form, "" when none."""
    def apply(resps, docs):
        out = []
        for rs, doc in zip(resps, docs):
            task = doc["task"]
            family, options = task_family(task), task_options(task, doc)
            answers = (extractor(r, family, options) for r in rs)
            out.append(["" if a is None else extract.normalize_target(a, family) for a in answers])
        return out
    return apply
