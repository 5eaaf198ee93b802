"""lm-eval helpers for the AGIEval tasks; the real code lives in harness/."""
from harness import extract
from harness.data import load_lm_eval_dataset as load_dataset  # noqa: F401
from harness.prompts import agieval_orca as doc_to_text  # noqa: F401


def doc_to_target(doc):
    return doc["label"]


def _filter(extractor, resps, docs):
    return [[extractor(r, extract.AGIEVAL_FAMILY, extract.options_from_agieval(d["options"])) or "" for r in rs]
            for rs, d in zip(resps, docs)]


def robust_filter(resps, docs):
    return _filter(extract.extract_answer, resps, docs)


def official_filter(resps, docs):
    return _filter(extract.extract_official, resps, docs)
