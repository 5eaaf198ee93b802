"""What every backend shares: the decoding settings of a run, and the protocol they follow.

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

from dataclasses import dataclass


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int        # tokens per answer (RunConfig: the tasks' max_gen_toks by default)
    temperature: float = 0.0
    top_p: float = 1.0

    @property
    def do_sample(self) -> bool:
        return self.temperature > 0

    def to_json(self) -> dict:
        return {"do_sample": self.do_sample, "temperature": self.temperature, "top_p": self.top_p,
                "max_new_tokens": self.max_new_tokens}

