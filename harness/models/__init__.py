"""Model backends: a registry from the `--model` spec to a backend.

`hf:PATH` and `vllm:PATH` wrap lm-eval's own model classes (HFLM, VLLM); `openai:MODEL`
is our thin async client for any OpenAI-compatible chat API, because lm-eval's API
models do not use the `openai` package's retry/backoff and give us no bounded
concurrency knob per run. Every backend turns (user, system) into the exact prompt it
sends -- that text is what cache keys and `prompt_sha` are computed from.

One backend per module, each registering the specs it answers (registry.py); the protocol
they all follow and the decoding settings are in base.py.
"""
from __future__ import annotations

from orca.errors import UserError

from harness.models.base import Decoding
from harness.models.named import NAMED_MODELS
from harness.models.registry import BACKENDS, NAMED

# Each import registers its backend; this order is the order `--model` errors list them in.
from harness.models import huggingface, openai_chat, vllm_causallms, gguf_file  # noqa: F401,E402  isort: skip

__all__ = ["Decoding", "make_backend"]


def make_backend(spec: str, cfg):
    """`hf:PATH`, `vllm:PATH`, `openai:MODEL`, `gguf:PATH`, a named model or `default` -> a backend."""
    if spec in NAMED:
        return NAMED[spec](spec, cfg)
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in BACKENDS or not rest:
        expected = ", ".join(f"{prefix}:{metavar}" for prefix, (metavar, _) in BACKENDS.items())
        raise UserError(f"--model {spec!r}: expected one of {expected}, "
                        f"default or a named model ({', '.join(NAMED_MODELS)}; see orca-eval models)")
    return BACKENDS[kind][1](rest, spec, cfg)
