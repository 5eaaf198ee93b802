"""Tokenization: teacher-only labels on real LLaMA-tokenized examples, data file shapes, embeddings."""
import json

import pytest
import torch

from orca.errors import UserError
from orca.system_messages import get_system_message
from orca.template import render_prompt
from orca.tokenize import IGNORE_INDEX, format_example, load_examples, resize_embeddings_for_tokenizer
from orca.tiny import load_tokenizer_with_pad, make_tiny_llama


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_llama(tmp_path_factory.mktemp("tok") / "tiny", seed=0)


@pytest.fixture(scope="module")
def tok(tiny_dir):
    return load_tokenizer_with_pad(tiny_dir)


def test_tokenizer_has_pad_and_32001_tokens(tok):
    assert tok.pad_token == "[[PAD]]"
    assert len(tok) == 32001
    assert tok.pad_token_id == 32000


@pytest.mark.parametrize("system", [None, "", get_system_message(7)])
def test_labels_cover_exactly_response_and_eos(tok, system):
    query = "Which is larger, 17 or 71? Options: (A) 17 (B) 71"
    response = "71 is larger because its tens digit is 7.\nAnswer: (B)"
    ex = format_example(tok, system, query, response)
    ids, labels = ex["input_ids"], ex["labels"]
    assert len(ids) == len(labels)
    # ids are the joint tokenization of prompt+response, then EOS
    joint = tok(render_prompt(query, system) + response)["input_ids"]
    assert ids == joint + [tok.eos_token_id]
    targets = [i for i, l in zip(ids, labels) if l != IGNORE_INDEX]
    assert [l for l in labels if l != IGNORE_INDEX] == targets  # a label is its own token
    assert targets[-1] == tok.eos_token_id
    assert tok.decode(targets[:-1]).strip() == response
    masked = tok.decode([i for i, l in zip(ids, labels) if l == IGNORE_INDEX])
    assert "### User:" in masked and "### Assistant:" in masked and "Answer: (B)" not in masked
    assert ("### System:" in masked) == (system is not None)
    # the masked part is a prefix: nothing after the first target is masked
    first = next(i for i, l in enumerate(labels) if l != IGNORE_INDEX)
    assert all(l != IGNORE_INDEX for l in labels[first:])


def test_loss_on_prompt_inverts_the_mask(tok):
    good = format_example(tok, "sys", "q text", "the answer")
    bad = format_example(tok, "sys", "q text", "the answer", loss_on="prompt")
    assert good["input_ids"] == bad["input_ids"]
    for i, (g, b) in enumerate(zip(good["labels"], bad["labels"])):
        if i == 0:
            assert g == b == IGNORE_INDEX  # never a target: in a packed row it follows another example
        else:
            assert (g == IGNORE_INDEX) != (b == IGNORE_INDEX)


def test_truncation_keeps_eos_and_is_reported(tok):
    ex = format_example(tok, None, "short question", "word " * 200, max_len=32)
    assert ex["truncated"] and len(ex["input_ids"]) == 32
    assert ex["input_ids"][-1] == tok.eos_token_id and ex["labels"][-1] == tok.eos_token_id
    assert not format_example(tok, None, "q", "a", max_len=32)["truncated"]


def test_collector_lines_failed_skipped_system_from_id_query_joined(tmp_path):
    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "a", "system_message_id": 3, "query": "Query A"},
        {"id": "b", "system_message_id": 1, "query": "Query B"},
        {"id": "c", "system": "custom sys", "query": "Query C"},
    ]))
    teacher = tmp_path / "teacher.jsonl"
    teacher.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "a", "status": "ok", "system_message_id": 3, "model": "gpt-4", "response": "Resp A"},
        {"id": "b", "status": "failed", "system_message_id": 1, "model": "gpt-4", "error": "429"},
        {"id": "c", "status": "ok", "model": "gpt-4", "response": "Resp C"},
    ]))
    examples, stats = load_examples(teacher, queries)
    assert stats["failed_skipped"] == 1 and stats["examples"] == 2
    assert examples[0] == {"id": "a", "system": get_system_message(3), "query": "Query A", "response": "Resp A"}
    assert examples[1]["system"] == "custom sys" and examples[1]["query"] == "Query C"


def test_plain_lines_and_clear_errors(tmp_path):
    f = tmp_path / "plain.jsonl"
    f.write_text(json.dumps({"query": "q", "response": "r"}) + "\n" + json.dumps({"system": "s", "query": "q2"}) + "\n")
    with pytest.raises(UserError, match=r"plain.jsonl:2: field 'response'"):
        load_examples(f)
    f.write_text(json.dumps({"id": 1, "status": "ok", "response": "r"}) + "\n")
    with pytest.raises(UserError, match=r"plain.jsonl:1: missing field 'query' \(pass the queries file"):
        load_examples(f)
    f.write_text("{not json\n")
    with pytest.raises(UserError, match=r"plain.jsonl:1: malformed JSON"):
        load_examples(f)
    f.write_text(json.dumps({"query": "q", "response": "r"}) + "\n")
    examples, _ = load_examples(f)
    assert examples[0]["system"] is None  # no system turn at all


def test_resize_embeddings_grows_to_tokenizer_with_mean_row(tok):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=32000, hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2))
    old = model.get_input_embeddings().weight.detach().clone()
    assert resize_embeddings_for_tokenizer(model, tok)
    new = model.get_input_embeddings().weight.detach()
    assert new.shape == (32001, 16)
    assert torch.equal(new[:32000], old)
    assert torch.allclose(new[32000], old.mean(0), atol=0.05)  # mean-resizing samples around the mean
    assert model.config.pad_token_id == tok.pad_token_id
    assert not resize_embeddings_for_tokenizer(model, tok)


def test_batched_tokenization_equals_one_by_one(tok):
    from orca.tokenize import tokenize_examples

    examples = [{"system": s, "query": f"Question {i}: {'why ' * i}?", "response": f"Because {i}. " * (i % 5 + 1)}
                for i, s in enumerate([None, "", "You are helpful."] * 5)]
    batched, stats = tokenize_examples(tok, examples, max_len=40, chunk=4)
    for ex, b in zip(examples, batched):
        one = format_example(tok, ex["system"], ex["query"], ex["response"], max_len=40)
        assert b["input_ids"].tolist() == one["input_ids"] and b["labels"].tolist() == one["labels"]
    assert stats["truncated"] == sum(
        format_example(tok, e["system"], e["query"], e["response"], max_len=40)["truncated"] for e in examples)
    assert stats["truncated"] > 0 and stats["examples"] == 15
