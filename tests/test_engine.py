"""The generation engine (harness/models/engine.py): continuous batching over a slot KV store.

What it must keep: greedy outputs equal to one-at-a-time `model.generate` (float32, where
rounding cannot flip a tie on these short answers), lm-eval's stop-string semantics (cut at
the first stop string), EOS and budget ends, each answer handed over as soon as it is
finished, sampled outputs fixed per request whatever the batch, and a KV store within the
bound it was given."""
from __future__ import annotations

import pytest
import torch

from harness.models.engine import GenerationEngine, SlotKV, _register_attention, engine_unsupported_reason


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_checkpoint)
    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint, dtype=torch.float32).eval()
    return model, tok


PROMPTS = [
    "### User:\nWhich is larger, 7 or 9? Options: (A) 7 (B) 9\n\n### Assistant:\n",
    "Hello",
    "### User:\nIs the following sentence plausible? \"Joao Moutinho caught the screen pass.\"\n\n### Assistant:\n",
    "A much longer prompt that goes on and on about many things " * 6,
    "Q: 2 + 2 = ?",
    "### User:\nSort the words: banana apple cherry\n\n### Assistant:\n",
    "x",
]


def _engine(model, tok, **kw):
    _register_attention()
    model.set_attn_implementation("orca_slots")
    eos = model.generation_config.eos_token_id
    return GenerationEngine(model, tok, encode=lambda p: tok(p)["input_ids"], max_length=kw.pop("max_length", 2048),
                            eos_token_ids=[eos] if isinstance(eos, int) else eos, device=torch.device("cpu"), **kw)


def _reference(model, tok, prompt, new_tokens, stop):
    model.set_attn_implementation("sdpa")
    enc = tok(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=new_tokens, do_sample=False, stop_strings=stop or None,
                             tokenizer=tok, pad_token_id=tok.pad_token_id)
    text = tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    for s in stop:
        text = text.split(s)[0]
    return text


@pytest.mark.parametrize("batch_size", [1, 3, None])
def test_greedy_equals_one_at_a_time_generate(tiny, batch_size):
    model, tok = tiny
    stop = ["</s>", "### User:"]
    engine = _engine(model, tok, batch_size=batch_size)
    outs = engine.generate(PROMPTS, max_new_tokens=24, stop=stop)
    refs = [_reference(model, tok, p, 24, stop) for p in PROMPTS]
    assert outs == refs
    # 3 slots for 7 prompts: rows left and were refilled (more prefills than one)
    if batch_size == 3:
        assert engine.stats.slots == 3 and engine.stats.prefills >= 3


def test_stop_string_cuts_at_the_first_and_ends_the_row(tiny):
    model, tok = tiny
    engine = _engine(model, tok, batch_size=4)
    free = engine.generate(PROMPTS[:4], max_new_tokens=40, stop=[])
    # a stop string taken from inside each free-running answer
    for prompt, text in zip(PROMPTS[:4], free):
        words = text.split()
        if len(words) < 4:
            continue
        stop = words[2]
        out = engine.generate([prompt], max_new_tokens=40, stop=[stop])[0]
        assert out == text.split(stop)[0]
        # the row ended once the stop string appeared, not at the budget
        assert engine.stats.new_tokens < 40 and engine.stats.hit_max_new_tokens == 0


def test_each_answer_is_handed_over_when_finished(tiny):
    model, tok = tiny
    engine = _engine(model, tok, batch_size=2)
    seen = []
    outs = engine.generate(PROMPTS, max_new_tokens=8, stop=["### User:"], on_result=lambda i, t: seen.append((i, t)))
    assert sorted(seen) == sorted(enumerate(outs)) and len(seen) == len(PROMPTS)


def test_sampling_is_fixed_per_request_not_per_batch(tiny):
    model, tok = tiny
    seeds = [11, 22, 33, 44, 55, 66, 77]
    kw = dict(max_new_tokens=12, stop=[], temperature=0.9, top_p=0.95, seeds=seeds)
    a = _engine(model, tok, batch_size=7).generate(PROMPTS, **kw)
    b = _engine(model, tok, batch_size=2).generate(PROMPTS, **kw)
    c = _engine(model, tok, batch_size=3).generate(PROMPTS[::-1], **{**kw, "seeds": seeds[::-1]})
    assert a == b == c[::-1]
    d = _engine(model, tok, batch_size=7).generate(PROMPTS, **{**kw, "seeds": [s + 1 for s in seeds]})
    assert d != a  # really sampled


def test_budget_and_prompt_truncation(tiny):
    model, tok = tiny
    engine = _engine(model, tok, batch_size=4, max_length=40)
    outs = engine.generate(PROMPTS, max_new_tokens=10, stop=[])
    # prompts longer than max_length - max_new_tokens keep their last 30 tokens, as HFLM does
    long = [p for p in PROMPTS if len(tok(p)["input_ids"]) > 30]
    assert engine.stats.truncated_prompts == len(long) > 0
    assert engine.stats.new_tokens <= 10 * len(PROMPTS)
    # the truncated prompt gives what its last 30 tokens give on their own
    ids = tok(PROMPTS[3])["input_ids"][-30:]
    alone = _engine(model, tok, batch_size=1)
    alone.encode = lambda p: ids
    assert alone.generate(["ignored"], max_new_tokens=10, stop=[]) == [outs[3]]


def test_kv_store_stays_within_its_bound(tiny):
    model, tok = tiny
    per_slot = SlotKV.bytes_per_slot(model.config, 64, model.dtype)
    engine = _engine(model, tok, kv_budget_bytes=3 * per_slot + 1)
    assert engine.choose_slots(64, 100) == 3
    engine.generate(PROMPTS, max_new_tokens=8, stop=[])
    assert engine.stats.kv_cache_bytes <= engine.kv_budget()
    assert engine.stats.slots <= 3


def test_models_it_does_not_cover_say_why(tiny):
    model, _ = tiny
    assert engine_unsupported_reason(model) is None

    class Cfg:
        model_type, is_encoder_decoder = "gpt2", False

    class M:
        config = Cfg()
    assert "gpt2" in engine_unsupported_reason(M())
