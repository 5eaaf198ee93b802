"""lm-eval helpers for the AGIEval tasks: this suite's target field and option letters
are defined here; the extraction and scoring code lives in harness/ (one implementation)."""
from harness import extract, scoring
from harness.data import load_lm_eval_dataset as load_dataset  # noqa: F401
from harness.prompts import agieval_orca as doc_to_text  # noqa: F401

TARGET_FIELD = "label"
OPTION_LETTERS = "ABCDEFG"  # label i of an example's `options` list


def doc_options(doc: dict) -> dict[str, str] | None:
    """Letter -> option text, from the example's ["(A)text", "(B)text", ...]."""
    return extract.options_from_agieval(doc["options"])


doc_to_target = scoring.lm_eval_target
robust_filter = scoring.lm_eval_filter(extract.extract_answer)
official_filter = scoring.lm_eval_filter(extract.extract_official)
