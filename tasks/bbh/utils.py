"""What this suite's lm-eval YAML names with `!function utils.NAME`: re-exported from
harness/suites/lm_eval.py (one implementation for every suite; the suite itself is
harness/suites/bbh.py)."""
from harness.suites.lm_eval import (doc_to_target, doc_to_text, load_dataset,  # noqa: F401
                                    official_filter, robust_filter)
