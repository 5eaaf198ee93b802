"""lm-eval helpers for the BBH tasks: this suite's target field and options are defined
here; the extraction and scoring code lives in harness/ (one implementation)."""
from harness import extract, scoring
from harness.data import load_lm_eval_dataset as load_dataset  # noqa: F401
from harness.prompts import bbh_orca as doc_to_text  # noqa: F401

TARGET_FIELD = "target"


def doc_options(doc: dict) -> dict[str, str] | None:
    """Letter -> option text, from the input's "Options:\\n(A) ...\\n(B) ..." block."""
    return extract.options_from_text(doc["input"])


doc_to_target = scoring.lm_eval_target
robust_filter = scoring.lm_eval_filter(extract.extract_answer)
official_filter = scoring.lm_eval_filter(extract.extract_official)
