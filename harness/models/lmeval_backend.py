"""Any lm-eval `LM` (HFLM, VLLM) as a backend: batched generate_until and loglikelihood.

The `hf:`, `vllm:` and `gguf:` backends (huggingface.py, vllm_causallms.py, gguf_file.py)
are this class around the model lm-eval loaded; here also what they share about a local
checkpoint: its identity (`fingerprint_checkpoint`) and the check that it is a causal LM.
"""
from __future__ import annotations

import collections
import hashlib
import json
from functools import cached_property
from pathlib import Path

from orca.errors import UserError
from orca.template import render_for_tokenizer

from harness.models.base import Decoding


def _all_stop_sequences() -> list[str]:
    from harness.suites import stop_sequences

    return stop_sequences()


# Every task's stop sequences (tasks/ YAML, through harness/suites): the fallback when a
# generate call names none.
STOP_SEQUENCES = _all_stop_sequences()


def fingerprint_checkpoint(path: Path) -> str:
    """Identity of a local checkpoint: config plus weight files (fully hashed when small,
    sampled when large, so a 26 GB model is not read end to end on every run)."""
    h = hashlib.sha256()
    for f in sorted(path.iterdir()):
        if not f.is_file() or f.suffix not in {".json", ".safetensors", ".bin", ".model", ".pt"}:
            continue
        h.update(f.name.encode())
        size = f.stat().st_size
        h.update(str(size).encode())
        with open(f, "rb") as fh:
            if size <= 256 << 20:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            else:
                h.update(fh.read(4 << 20))
                fh.seek(size - (4 << 20))
                h.update(fh.read())
    return h.hexdigest()[:16]


def check_causal_lm_dir(path: Path, spec: str) -> None:
    if not path.exists():
        raise UserError(f"--model {spec}: {path} does not exist")
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise UserError(f"--model {spec}: {path} is not a Hugging Face checkpoint (no config.json)")
    try:
        cfg = json.loads(cfg_file.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{cfg_file}:{e.lineno}: invalid JSON") from None
    archs = cfg.get("architectures") or []
    if archs and not any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        raise UserError(f"--model {spec}: {path} is a {archs[0]}, not a causal language model")



class LMEvalBackend:
    """Any lm-eval `LM` (HFLM, VLLM): batched generate_until and loglikelihood."""

    supports_loglikelihood = True

    def __init__(self, lm, spec: str, kind: str, path: Path, tokenizer, revision: str | None,
                 dtype: str | None = None, batch_size: int | None = None, shown_path: str | None = None):
        self.lm, self.spec, self.kind, self.path = lm, spec, kind, path
        # what run.json records as model.path: the folder as the user typed it, or None when
        # the backend found it itself (the default checkpoint, a GGUF file's converted copy in
        # the cache): a published run must not name a folder of the machine that ran it
        self.shown_path = shown_path
        self.tokenizer = tokenizer
        self.revision = revision
        self.dtype, self.batch_size = dtype, batch_size
        self._engine = None
        self.engine_stats: dict | None = None
        if kind in ("hf", "gguf"):
            from harness.models.engine import engine_unsupported_reason
            self._engine_reason = engine_unsupported_reason(lm.model)
        else:
            self._engine_reason = f"{kind} backend"

    @cached_property
    def fingerprint(self) -> str:
        """The checkpoint's hash (the output-cache key), read when first asked: a GGUF backend
        sets its file's hash instead, so the converted folder is never read for it."""
        return fingerprint_checkpoint(self.path)

    def describe(self) -> dict:
        out = {"spec": self.spec, "backend": self.kind, "path": self.shown_path, "revision": self.revision,
               "fingerprint": self.fingerprint,
               "chat_template": bool(getattr(self.tokenizer, "chat_template", None))}
        if self.kind in ("hf", "gguf"):
            reason = self.engine_reason()
            out |= {"dtype": self.dtype, "max_length": self.lm.max_length,
                    "generation": "engine" if reason is None else f"hflm ({reason})"}
        return out

    @property
    def output_identity(self) -> dict | None:
        """What changes this backend's outputs beyond the checkpoint: the dtype it computes in
        and the context length prompts are truncated to (part of every output-cache key)."""
        if self.kind not in ("hf", "gguf"):
            return None
        return {"dtype": self.dtype, "max_length": self.lm.max_length, "truncation": "left"}

    def engine_reason(self) -> str | None:
        """None when generation runs on harness/models/engine.py, else why HFLM runs it."""
        return self._engine_reason

    def engine(self):
        if self._engine is None:
            from harness.models.engine import GenerationEngine

            lm = self.lm
            eos = lm.model.generation_config.eos_token_id
            eos = [eos] if isinstance(eos, int) else list(eos or [lm.tokenizer.eos_token_id])
            self._engine = GenerationEngine(
                lm.model, lm.tokenizer, encode=lambda p: lm.tok_batch_encode([p])[0][0].tolist(),
                max_length=lm.max_length, eos_token_ids=eos, device=lm.device, batch_size=self.batch_size)
        return self._engine

    def format_prompt(self, user: str, system: str | None) -> str:
        return render_for_tokenizer(self.tokenizer, user, system)

    @property
    def per_request_seed(self) -> bool:
        # vLLM: a SamplingParams seed per request; the engine: a generator per request
        return self.kind == "vllm" or self.engine_reason() is None

    def generate(self, prompts: list[str], decoding: Decoding, seed: int, *, seeds: list[int] | None = None,
                 stop=(), on_result=None) -> list[str]:
        import torch
        from lm_eval.api.instance import Instance

        if self.engine_reason() is None:
            engine = self.engine()
            outs = engine.generate(prompts, max_new_tokens=decoding.max_new_tokens, stop=list(stop or STOP_SEQUENCES),
                                   temperature=decoding.temperature, top_p=decoding.top_p, seeds=seeds,
                                   on_result=on_result)
            self.engine_stats = engine.stats.to_json()
            return outs

        torch.manual_seed(seed)  # HF: one generator for the whole call
        gen_kwargs = {"until": list(stop or STOP_SEQUENCES), "max_gen_toks": decoding.max_new_tokens,
                      "do_sample": decoding.do_sample}
        if decoding.do_sample:
            gen_kwargs.update(temperature=decoding.temperature, top_p=decoding.top_p)
        per_request = [dict(gen_kwargs) for _ in prompts]
        if decoding.do_sample and self.per_request_seed and seeds is not None:
            # lm-eval's VLLM makes one SamplingParams per request from its gen_kwargs (and sends
            # them in one call); HFLM would pass `seed` to model.generate, so only here.
            for kw, s in zip(per_request, seeds):
                kw["seed"] = s
        reqs = [Instance("generate_until", {}, (p, kw), i) for i, (p, kw) in enumerate(zip(prompts, per_request))]
        with _ResultHook(self.lm, prompts, on_result):
            return self.lm.generate_until(reqs, disable_tqdm=True)

    def loglikelihood(self, pairs: list[tuple[str, str]], *, on_result=None) -> list[float]:
        if self.kind in ("hf", "gguf"):  # each context encoded once, not once per option (vLLM: lm-eval's path)
            from harness.models.loglikelihood import shared_prefix_loglikelihood
            return shared_prefix_loglikelihood(self.lm, pairs, on_result=on_result)
        from lm_eval.api.instance import Instance

        reqs = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
        report = (lambda i, res: on_result(i, float(res[0]))) if on_result else None
        with _ResultHook(self.lm, [tuple(p) for p in pairs], report):
            return [float(lp) for lp, _ in self.lm.loglikelihood(reqs, disable_tqdm=True)]

    # Data parallel under `accelerate launch` or `torchrun`: each process takes a slice
    # of the requests. Read from torch.distributed rather than the lm-eval model, which
    # only goes multi-process when it has several GPUs.
    @property
    def rank(self) -> int:
        from orca.distributed import join_process_group, rank_world
        join_process_group()
        return rank_world()[0]

    @property
    def world_size(self) -> int:
        from orca.distributed import join_process_group, rank_world
        join_process_group()
        return rank_world()[1]

    def barrier(self) -> None:
        from orca.distributed import barrier, join_process_group
        join_process_group()
        barrier()


class _ResultHook:
    """Each result of an lm-eval LM call as it is produced, through lm-eval's own
    per-request hook (`LM.cache_hook.add_partial`, called right after each batch).

    The hook names a request by its arguments, not its position: identical requests
    (sampled repeats of one prompt) are handed out first come first served, which is the
    order lm-eval computes them in (its Collator sorts stably)."""

    def __init__(self, lm, keys: list, on_result):
        self.lm, self.on_result = lm, on_result
        self.waiting: dict = collections.defaultdict(collections.deque)
        for i, k in enumerate(keys):
            self.waiting[k].append(i)

    def __enter__(self):
        from lm_eval.api.model import CacheHook

        if self.on_result is None:
            return self
        hook, self.saved = CacheHook(None), self.lm.cache_hook

        def add_partial(attr, req, res):
            key = req[0] if attr == "generate_until" else tuple(req)
            if self.waiting.get(key):
                self.on_result(self.waiting[key].popleft(), res)
        hook.add_partial = add_partial
        self.lm.set_cache_hook(hook)
        return self

    def __exit__(self, *exc):
        if self.on_result is not None:
            self.lm.set_cache_hook(self.saved)
        return False

