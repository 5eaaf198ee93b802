"""Model backends: a registry from the `--model` prefix to a class.

`hf:PATH` and `vllm:PATH` wrap lm-eval's own model classes (HFLM, VLLM); `openai:MODEL`
is our thin async client for any OpenAI-compatible chat API, because lm-eval's API
models do not use the `openai` package's retry/backoff and give us no bounded
concurrency knob per run. Every backend turns (user, system) into the exact prompt it
sends -- that text is what cache keys and `prompt_sha` are computed from.

The protocol every backend follows (the runner calls each method once per run, with every
request the cache lacks, across tasks x variants x repeats):

    fingerprint: str; rank, world_size: int; supports_loglikelihood: bool
    per_request_seed: bool   # True: `seeds` fix each sampled output whatever the batching
    describe() -> dict                              # recorded in run.json
    format_prompt(user, system) -> str              # the exact text sent
    generate(prompts, decoding, seed, *, seeds=None, stop=(), on_result=None) -> list[str]
    loglikelihood(pairs, *, on_result=None) -> list[float]
    barrier() -> None

`seed` seeds a backend that samples with one generator for the whole call (HF batched
sampling: outputs then depend on which requests share a batch); `seeds` (one per prompt,
from (seed, task, doc_id, repeat)) go to backends that take a seed per request (vLLM
SamplingParams, the OpenAI `seed` field). `stop` is the run's stop sequences (tasks/ YAML
`generation_kwargs.until`). `on_result(i, value)` is called as soon as request i is
done, so the runner can write it to the output cache before the call returns.
"""
from __future__ import annotations

import asyncio
import collections
import contextvars
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from orca.errors import UserError
from orca.redact import redact_url
from orca.teacher import TeacherClient
from orca.template import chat_messages, render_for_tokenizer


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0

    @property
    def do_sample(self) -> bool:
        return self.temperature > 0

    def to_json(self) -> dict:
        return {"do_sample": self.do_sample, "temperature": self.temperature, "top_p": self.top_p,
                "max_new_tokens": self.max_new_tokens}


def _stop_sequences() -> list[str]:
    from harness.taskdefs import all_tasks

    return list(dict.fromkeys(s for t in all_tasks().values() for s in t.until))


# Every task's stop sequences (tasks/ YAML), for callers that need one list.
STOP_SEQUENCES = _stop_sequences()


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
        self.fingerprint = fingerprint_checkpoint(path)
        self._engine = None
        self.engine_stats: dict | None = None
        if kind in ("hf", "gguf"):
            from harness.engine import engine_unsupported_reason
            self._engine_reason = engine_unsupported_reason(lm.model)
        else:
            self._engine_reason = f"{kind} backend"

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
        """None when generation runs on harness/engine.py, else why HFLM runs it."""
        return self._engine_reason

    def engine(self):
        if self._engine is None:
            from harness.engine import GenerationEngine

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
            from harness.loglikelihood import shared_prefix_loglikelihood
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


def _resolve_local(path_str: str, spec: str) -> Path:
    if path_str == "default" or spec == "default":
        from harness.default_model import default_checkpoint
        return default_checkpoint()
    return Path(path_str).expanduser()


def make_hf_backend(path_str: str, spec: str, cfg) -> LMEvalBackend:
    path = _resolve_local(path_str, spec)
    check_causal_lm_dir(path, spec)
    from lm_eval.models.huggingface import HFLM
    import torch

    from harness.precision import resolve_dtype

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


# The OpenAI `seed` of the request being sent. A context variable because each request is
# its own asyncio task (with its own copy of the context) while all share one client.
_REQUEST_SEED: contextvars.ContextVar[int | None] = contextvars.ContextVar("orca_request_seed", default=None)


class _SeededTeacherClient(TeacherClient):
    """The project's API client, sending the current request's `seed` with its sampling
    parameters (TeacherClient reads `self.sampling` for every request it sends)."""

    @property
    def sampling(self) -> dict:
        seed = _REQUEST_SEED.get()
        return self._sampling if seed is None else {**self._sampling, "seed": seed}

    @sampling.setter
    def sampling(self, value: dict) -> None:
        self._sampling = value


class OpenAIChatBackend:
    """Chat completions from any OpenAI-compatible server, through the project's one
    API client (orca.teacher.TeacherClient, shared with teacher collection): bounded
    concurrency, optional client-side requests/tokens-per-minute pacing, retries with
    backoff and jitter on 429 (honouring Retry-After), 5xx, timeouts, dropped connections
    and malformed bodies. The key comes from $OPENAI_API_KEY only and is never recorded.
    """

    supports_loglikelihood = False
    rank, world_size = 0, 1
    output_identity = None   # the server's model name is the identity (fingerprint)

    def __init__(self, model: str, spec: str, cfg):
        from orca.teacher import resolve_api_key

        self.model, self.spec, self.cfg = model, spec, cfg
        self.base_url = cfg.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        self._key = resolve_api_key(self.base_url)
        self.shown_url = redact_url(self.base_url)  # what run.json and messages show: no credentials
        self.fingerprint = hashlib.sha256(f"openai|{self.base_url}|{model}".encode()).hexdigest()[:16]
        self.revision = cfg.revision
        self._preflight()

    def describe(self) -> dict:
        return {"spec": self.spec, "backend": "openai", "path": None, "base_url": self.shown_url,
                "revision": self.revision, "fingerprint": self.fingerprint, "chat_template": True}

    def format_prompt(self, user: str, system: str | None) -> str:
        return json.dumps(chat_messages(user, system), ensure_ascii=False)

    def _preflight(self) -> None:
        """Fail before anything is written when the API is unreachable or the key is refused."""
        import openai

        async def ping():
            async with openai.AsyncOpenAI(base_url=self.base_url, api_key=self._key, max_retries=1,
                                          timeout=min(self.cfg.request_timeout, 30)) as client:
                try:
                    await client.models.list()
                except openai.NotFoundError:
                    pass  # some servers (llama.cpp) have no /models; the chat call will tell
        try:
            asyncio.run(ping())
        except openai.APIStatusError as e:
            raise UserError(f"OpenAI-compatible API at {self.shown_url}: HTTP {e.status_code} (model {self.model})") from None
        except openai.APIConnectionError as e:
            why = "timed out" if isinstance(e, openai.APITimeoutError) else "cannot connect"
            raise UserError(f"OpenAI-compatible API at {self.shown_url}: {why}") from None

    per_request_seed = True

    def generate(self, prompts: list[str], decoding: Decoding, seed: int, *, seeds: list[int] | None = None,
                 stop=(), on_result=None) -> list[str]:
        """Every prompt through one client (one rate limiter, one concurrency bound for the
        whole run); each answer goes to `on_result` as it arrives."""
        from orca.teacher import FatalTeacherError

        async def one(client, i, prompt):
            if decoding.do_sample and seeds is not None:
                _REQUEST_SEED.set(seeds[i])  # this task's own context: no other request sees it
            result = await client.ask_messages(json.loads(prompt))  # the messages format_prompt built
            if result.ok and on_result is not None:
                on_result(i, result.response or "")
            return result

        async def all_():
            async with _SeededTeacherClient(
                    self.model, base_url=self.base_url, rpm=self.cfg.rpm, tpm=self.cfg.tpm,
                    concurrency=self.cfg.concurrency, max_retries=self.cfg.max_retries,
                    timeout_s=self.cfg.request_timeout, temperature=decoding.temperature,
                    top_p=decoding.top_p, max_tokens=decoding.max_new_tokens, seed=seed) as client:
                return await asyncio.gather(*(one(client, i, p) for i, p in enumerate(prompts)))
        try:
            results = asyncio.run(all_())
        except FatalTeacherError as e:
            raise UserError(f"OpenAI-compatible API at {self.shown_url}: {e}") from None
        failed = [r for r in results if not r.ok]
        if failed:
            self.partial = {i: r.response for i, r in enumerate(results) if r.ok}
            raise UserError(f"{len(failed)} of {len(results)} API requests failed after retries "
                            f"(last: {failed[-1].error}); answers so far are cached -- run the same command "
                            "again to retry the rest")
        return [r.response or "" for r in results]

    def loglikelihood(self, pairs, *, on_result=None):
        raise UserError("--mode loglikelihood needs log-probabilities of given text; chat APIs do not provide "
                        "them -- use --mode generate")

    def barrier(self) -> None:
        pass


BACKENDS = {
    "hf": make_hf_backend,
    "vllm": make_vllm_backend,
    "openai": lambda name, spec, cfg: OpenAIChatBackend(name, spec, cfg),
    "gguf": lambda path, spec, cfg: _models_gguf().make_gguf_backend(path, spec, cfg),
}


def _models_gguf():
    import harness.models_gguf  # imported when used: it builds on this module

    return harness.models_gguf


def make_backend(spec: str, cfg):
    """`hf:PATH`, `vllm:PATH`, `openai:MODEL`, `gguf:PATH`, a named model or `default` -> a backend."""
    from harness.named_models import NAMED_MODELS

    if spec == "default":
        return make_hf_backend("default", spec, cfg)
    if spec in NAMED_MODELS:
        return _models_gguf().make_named_backend(spec, cfg)
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in BACKENDS or not rest:
        raise UserError(f"--model {spec!r}: expected one of hf:PATH, openai:MODEL, vllm:PATH, gguf:PATH, "
                        f"default or a named model ({', '.join(NAMED_MODELS)}; see orca-eval models)")
    return BACKENDS[kind](rest, spec, cfg)
