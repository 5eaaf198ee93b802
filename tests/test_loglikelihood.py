"""The shared-prefix loglikelihood scorer gives lm-eval's `HFLM.loglikelihood` numbers
on the same requests, and encodes each context once."""
from __future__ import annotations

import pytest

from harness.models.loglikelihood import shared_prefix_loglikelihood
from helpers import agieval_pairs

TOLERANCE = 1e-4


def hflm_loglikelihood(lm, pairs) -> list[float]:
    from lm_eval.api.instance import Instance

    return [lp for lp, _ in lm.loglikelihood([Instance("loglikelihood", {}, p, i) for i, p in enumerate(pairs)],
                                             disable_tqdm=True)]


def count_forward_tokens(model) -> list[int]:
    """Lengths of the sequences each forward call of `model` processes."""
    seen: list[int] = []
    model.register_forward_pre_hook(lambda mod, args, kwargs: seen.append(
        (kwargs.get("input_ids") if kwargs.get("input_ids") is not None else args[0]).shape[1]), with_kwargs=True)
    return seen


@pytest.fixture(scope="module")
def tiny_lm(tiny_checkpoint):
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=str(tiny_checkpoint), device="cpu", batch_size=8)


def test_equals_hflm_on_agieval_and_edge_cases(tiny_lm, data_dir):
    pairs = agieval_pairs(data_dir, tiny_lm.tokenizer, ["agieval/lsat-rc", "agieval/aqua-rat", "agieval/sat-math"], 2)
    pairs += [("Question: 2 + 2 = ", "4"),             # trailing space moves to the continuation
              ("The answer is", " (B)"), ("The answer is", " B"),  # one-token and longer options together
              ("", "An empty context")]                   # HFLM's own path (prefix token)
    want = hflm_loglikelihood(tiny_lm, pairs)
    got = shared_prefix_loglikelihood(tiny_lm, pairs)
    assert len(got) == len(want) == len(pairs)
    worst = max(abs(a - b) for a, b in zip(got, want))
    assert worst < TOLERANCE, worst
    assert len(set(round(x, 3) for x in got)) > len(got) // 2  # real, distinct numbers, not a constant


def test_each_context_is_encoded_once(tiny_lm, data_dir):
    pairs = agieval_pairs(data_dir, tiny_lm.tokenizer, ["agieval/lsat-rc"], 3)
    lengths = count_forward_tokens(tiny_lm.model)
    shared_prefix_loglikelihood(tiny_lm, pairs)
    contexts = len({p for p, _ in pairs})
    assert len(pairs) == 5 * contexts
    long_calls = [n for n in lengths if n > 200]  # lsat-rc passages are several hundred tokens
    assert len(long_calls) == contexts, lengths
    assert len(lengths) == 2 * contexts  # one call for the context, one batched call for its options


def test_too_long_pairs_go_to_hflm_and_still_agree(tiny_checkpoint, data_dir):
    """A pair longer than the context window is truncated from the left by HFLM; ours hands
    it to HFLM, so the numbers still agree."""
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=str(tiny_checkpoint), device="cpu", batch_size=8, max_length=128)
    pairs = agieval_pairs(data_dir, lm.tokenizer, ["agieval/lsat-rc"], 1) + [("The answer is", " (B)")]
    n_long = sum(len(lm.tok_encode(p + o)) > 129 for p, o in pairs)
    assert 0 < n_long < len(pairs)
    want = hflm_loglikelihood(lm, pairs)
    got = shared_prefix_loglikelihood(lm, pairs)
    assert max(abs(a - b) for a, b in zip(got, want)) < TOLERANCE
