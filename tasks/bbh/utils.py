"""lm-eval helpers for the BBH tasks; the real code lives in harness/."""
from harness import extract
from harness.data import load_lm_eval_dataset as load_dataset  # noqa: F401
from harness.prompts import bbh_orca as doc_to_text  # noqa: F401


def _filter(extractor, resps, docs):
    out = []
    for rs, d in zip(resps, docs):
        family = extract.BBH_TASK_FAMILY[d["task"].split("/", 1)[1]]
        out.append([extractor(r, family, extract.options_from_text(d["input"])) or "" for r in rs])
    return out


def robust_filter(resps, docs):
    return _filter(extract.extract_answer, resps, docs)


def official_filter(resps, docs):
    return _filter(extract.extract_official, resps, docs)
