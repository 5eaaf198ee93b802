"""Which answer family each task uses (its tasks/<suite>/<task>.yaml `metadata.family`, read by
harness/taskdefs.py), and the gold targets of letter tasks that no letter can match."""
from __future__ import annotations

from orca.errors import UserError
from harness.extract.multiple_choice import _mc_normalize
from harness.taskdefs import suite_families

(AGIEVAL_FAMILY,) = set(suite_families("agieval").values())  # one family for the whole suite
BBH_TASK_FAMILY: dict[str, str] = suite_families("bbh")


def family_for_task(task: str) -> str:
    """`agieval/lsat-ar` -> "mc", `bbh/navigate` -> "yes_no"."""
    suite, _, name = task.partition("/")
    if suite == "agieval" and name:
        return AGIEVAL_FAMILY
    if suite == "bbh" and name in BBH_TASK_FAMILY:
        return BBH_TASK_FAMILY[name]
    raise UserError(f"unknown task {task!r}: expected agieval/<task> or bbh/<one of the 27 BBH tasks>")


def damaged_targets(docs_by_task) -> dict[str, list[str]]:
    """Gold targets of letter tasks that are not an option letter, per task (`bbh/...` or
    `agieval/...` -> docs). BBH split three comma-containing options into several
    ("Monsters, Inc" = "(A) Monsters" + "(B) Inc") and kept the joined text as the target;
    the official rule (a letter) can never score them, the robust one scores the stated text.
    Recorded in run.json under data.damaged_targets so a reader sees why official accuracy
    stays below 100 % there."""
    out: dict[str, list[str]] = {}
    for task, docs in docs_by_task.items():
        if family_for_task(task) != "mc":
            continue
        key = "label" if task.startswith("agieval/") else "target"
        bad = sorted({str(d[key]) for d in docs if len(_mc_normalize(str(d[key]))) != 1})
        if bad:
            out[task] = bad
    return out
