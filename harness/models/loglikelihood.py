"""Loglikelihood of several continuations of one context, the context encoded once.

lm-eval's `HFLM.loglikelihood` runs every (context, continuation) pair as its own
sequence: a multiple-choice question with a long passage and five options encodes the
passage five times and computes full-vocabulary logits at every passage position. Here
each distinct context runs once, keeping its KV cache and the logits of its last
position only; the options then run as one batch of short sequences against that cache.

Tokenization is HFLM's own (`_encode_pair`: trailing spaces of the context move to the
continuation, the pair is split from the encoding of the whole), so the tokens scored
are the ones lm-eval scores, and the log-probabilities agree with `HFLM.loglikelihood`
to float rounding (tests/test_loglikelihood.py). Requests this does not cover -- an empty
context, an empty continuation, or a pair longer than the model's context window, which
HFLM truncates from the left -- go to HFLM itself.
"""
from __future__ import annotations

import contextlib


def shared_prefix_loglikelihood(lm, pairs: list[tuple[str, str]], on_result=None) -> list[float]:
    """Sum of log p(continuation | context) for each pair, as `HFLM.loglikelihood` gives
    it; `lm` is an lm-eval HFLM on a causal model. `on_result(i, logprob)` is called as
    each result is produced (after each context), so a killed run keeps what it computed."""
    import torch
    import torch.nn.functional as F

    results: list[float | None] = [None] * len(pairs)
    by_context: dict[tuple[int, ...], list[tuple[int, list[int]]]] = {}
    to_hflm = []
    for i, (context, continuation) in enumerate(pairs):
        if not context:
            to_hflm.append(i)
            continue
        context_enc, continuation_enc = lm._encode_pair(context, continuation)
        if not context_enc or not continuation_enc or len(context_enc) + len(continuation_enc) > lm.max_length + 1:
            to_hflm.append(i)
            continue
        by_context.setdefault(tuple(context_enc), []).append((i, continuation_enc))

    model, device = lm.model, lm.device
    softmax_dtype = getattr(lm, "softmax_dtype", None)
    mixed = getattr(lm, "mixed_precision_dtype", None)
    autocast = (torch.autocast(device_type=device.type, dtype=mixed) if mixed is not None
                else contextlib.nullcontext())
    cache_kw, last_only = _forward_kwargs(model)
    with torch.no_grad(), autocast:
        for context_enc, options in by_context.items():
            prefix = model(torch.tensor([context_enc], device=device), use_cache=True, **last_only)
            # the context's last position predicts every option's first token
            first = F.log_softmax(prefix.logits[0, -1], dim=-1, dtype=softmax_dtype)
            sums = [first[cont[0]].double() for _, cont in options]
            longest = max(len(cont) for _, cont in options)
            if longest > 1:
                cache = getattr(prefix, "past_key_values", None) or prefix.cache
                cache.batch_repeat_interleave(len(options))
                # Right padding with any token: a causal model's real positions never see
                # the padding after them, and padded positions are not read.
                rest = torch.tensor([cont[:-1] + [cont[0]] * (longest - len(cont)) for _, cont in options],
                                    device=device)
                logp = F.log_softmax(model(rest, use_cache=True, **{cache_kw: cache}).logits, dim=-1,
                                     dtype=softmax_dtype)
                for j, (_, cont) in enumerate(options):
                    n = len(cont) - 1
                    if n:
                        targets = torch.tensor(cont[1:], device=device)
                        sums[j] = sums[j] + logp[j, torch.arange(n, device=device), targets].double().sum()
            for (i, _), total in zip(options, sums):
                results[i] = float(total)
                if on_result is not None:
                    on_result(i, results[i])

    if to_hflm:
        from lm_eval.api.instance import Instance

        reqs = [Instance("loglikelihood", {}, pairs[i], k) for k, i in enumerate(to_hflm)]
        for i, (lp, _) in zip(to_hflm, lm.loglikelihood(reqs, disable_tqdm=True)):
            results[i] = float(lp)
            if on_result is not None:
                on_result(i, results[i])
    return results


def _forward_kwargs(model) -> tuple[str, dict]:
    """The name of the cache argument (`cache` from transformers 5.x, `past_key_values`
    before) and the argument that computes logits at the last position only, where the
    model's forward has one (full-vocabulary logits over a long passage cost more than
    the passage's layers on a small model)."""
    import inspect

    params = inspect.signature(model.forward).parameters
    cache_kw = "cache" if "cache" in params else "past_key_values"
    for name in ("logits_to_keep", "num_logits_to_keep"):
        if name in params:
            return cache_kw, {name: 1}
    return cache_kw, {}
