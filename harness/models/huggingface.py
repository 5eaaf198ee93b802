"""`--model hf:PATH` and `--model default`: a local Hugging Face checkpoint through lm-eval's HFLM."""
from __future__ import annotations

from pathlib import Path

from orca.errors import UserError

from harness.models.lmeval_backend import LMEvalBackend, check_causal_lm_dir
from harness.models.registry import register_model, register_name


def _resolve_local(path_str: str, spec: str) -> Path:
    if path_str == "default" or spec == "default":
        from harness.models.default import default_checkpoint
        return default_checkpoint()
    return Path(path_str).expanduser()


@register_model("hf", "PATH")
def make_hf_backend(path_str: str, spec: str, cfg) -> LMEvalBackend:
    path = _resolve_local(path_str, spec)
    check_causal_lm_dir(path, spec)
    from lm_eval.models.huggingface import HFLM
    import torch

    from harness.models.precision import resolve_dtype

    device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = resolve_dtype(cfg.dtype, device)
    try:
        # HFLM's own batches (loglikelihood fallbacks, models the engine does not cover): 16 unless given
        lm = HFLM(pretrained=str(path), device=device, batch_size=cfg.batch_size or 16, dtype=dtype,
                  revision=cfg.revision or "main", max_length=cfg.max_length)
    except (OSError, ValueError) as e:
        raise UserError(f"--model {spec}: cannot load {path} as a causal LM: {str(e).splitlines()[0]}") from None
    typed = None if path_str == "default" or spec == "default" else path_str
    return LMEvalBackend(lm, spec, "hf", path, lm.tokenizer, cfg.revision, dtype=dtype, batch_size=cfg.batch_size,
                         shown_path=typed)



# `default`: the README's model, trained on first use (harness/models/default.py)
register_name("default", lambda spec, cfg: make_hf_backend("default", spec, cfg))
