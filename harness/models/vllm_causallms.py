"""`--model vllm:PATH`: a local Hugging Face checkpoint through lm-eval's VLLM (optional extra, needs a GPU)."""
from __future__ import annotations

import os
from pathlib import Path

from orca.errors import UserError

from harness.models.lmeval_backend import LMEvalBackend, check_causal_lm_dir
from harness.models.registry import register_model


@register_model("vllm", "PATH")
def make_vllm_backend(path_str: str, spec: str, cfg) -> LMEvalBackend:
    try:
        import vllm  # noqa: F401  (optional extra: pip install 'orca-eval[vllm]')
    except ImportError:
        raise UserError("--model vllm:...: vLLM is not installed (pip install 'orca-eval[vllm]', needs a GPU)") from None
    path = Path(path_str).expanduser()
    check_causal_lm_dir(path, spec)
    from lm_eval.models.vllm_causallms import VLLM

    lm = VLLM(pretrained=str(path), batch_size="auto", max_length=cfg.max_length,
              data_parallel_size=int(os.environ.get("ORCA_VLLM_DP", "1")))
    return LMEvalBackend(lm, spec, "vllm", path, lm.tokenizer, cfg.revision, shown_path=path_str)
