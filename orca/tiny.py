"""Tiny LLaMA checkpoints made by our own code, for the default model, tests and CI.

`make_tiny_llama(out_dir)` writes a Hugging Face checkpoint (config, weights,
tokenizer with `[[PAD]]` added -> vocabulary 32001). Same seed, same weights.
"""
from __future__ import annotations

from pathlib import Path

from orca.io import write_text_atomic
from orca.paths import tokenizer_dir

PAD_TOKEN = "[[PAD]]"

TINY_CONFIG = dict(
    hidden_size=64,
    intermediate_size=172,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=4096,
    rms_norm_eps=1e-5,
    tie_word_embeddings=True,
)


def load_tokenizer_with_pad(path: str | Path):
    """A LLaMA-style tokenizer with `[[PAD]]` added as its pad token (as the paper did)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    if tok.pad_token is None:
        tok.add_special_tokens({"pad_token": PAD_TOKEN})
    return tok


def make_tiny_llama(out_dir: str | Path, seed: int = 0, tokenizer_path: str | Path | None = None,
                    **overrides) -> Path:
    """Randomly initialise a tiny LLaMA with `seed` and save it (with tokenizer) to `out_dir`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    tok = load_tokenizer_with_pad(tokenizer_path or tokenizer_dir())
    cfg = LlamaConfig(
        vocab_size=len(tok),
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        **{**TINY_CONFIG, **overrides},
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.eos_token_id = tok.eos_token_id
    tmp = out_dir.with_name(out_dir.name + ".partial")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    write_text_atomic(tmp / "ORCA_TINY.txt", f"random init, seed={seed}, config={TINY_CONFIG | overrides}\n")
    if out_dir.exists():
        import shutil
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return out_dir
