"""Explanation tuning keeps a real model's OWN tokenizer: SmolLM2-135M-Instruct (vocabulary 49,152,
its chat template, its pad token) rather than the shared LLaMA tokenizer + [[PAD]]."""
import json

import pytest
import torch

from orca.tokenize import IGNORE_INDEX, format_example, tokenize_examples
from orca.template import chat_messages
from orca.system_messages import get_system_message
from orca.train import load_tokenizer
from orca.train_config import parse_train_config

QUERY = "Which of the following is an animal? Answer Choices: (A)lamp (B)zebra (C)red (D)spoon"
RESPONSE = "(B)zebra\nA zebra is an animal. The others are not: lamp, red and spoon are not an animal."


@pytest.fixture(scope="module")
def smollm2_tokenizer(smollm2_checkpoint, tmp_path_factory):
    cfg = parse_train_config({"output_dir": "out", "stages": [{"name": "s", "data": "d.jsonl", "init": "tiny:0"}]},
                             tmp_path_factory.mktemp("cfg") / "c.yaml")
    return load_tokenizer(cfg, smollm2_checkpoint)


def test_own_tokenizer_is_kept_no_pad_token_added(smollm2_tokenizer, smollm2_checkpoint):
    tok = smollm2_tokenizer
    assert len(tok) == 49152 and "[[PAD]]" not in tok.get_vocab()
    assert tok.pad_token == "<|im_end|>" and tok.eos_token == "<|im_end|>"
    assert tok.chat_template
    cfg = json.loads((smollm2_checkpoint / "config.json").read_text())
    assert cfg["vocab_size"] == len(tok)  # so resize_embeddings_for_tokenizer leaves the model alone


@pytest.mark.parametrize("system", [None, "", get_system_message(8)])
def test_training_text_is_the_models_own_chat_rendering(smollm2_tokenizer, system):
    """The trained sequence is exactly what the chat template renders for the whole conversation,
    up to and including the assistant's end-of-turn token; only the response and that token are targets."""
    tok = smollm2_tokenizer
    ex = format_example(tok, system, QUERY, RESPONSE)
    rendered = tok.apply_chat_template(chat_messages(QUERY, system) + [{"role": "assistant", "content": RESPONSE}],
                                       tokenize=False)
    end = rendered.rindex("<|im_end|>") + len("<|im_end|>")
    assert tok.decode(ex["input_ids"]) == rendered[:end]
    targets = [i for i, lab in zip(ex["input_ids"], ex["labels"]) if lab != IGNORE_INDEX]
    assert tok.decode(targets) == RESPONSE + "<|im_end|>"
    assert ex["input_ids"][-1] == tok.convert_tokens_to_ids("<|im_end|>")
    if system is None:  # no system turn: the template's own default system message, as at evaluation
        assert "You are a helpful AI assistant named SmolLM" in tok.decode(ex["input_ids"])


def test_batched_equals_one_by_one(smollm2_tokenizer):
    tok = smollm2_tokenizer
    examples = [{"system": s, "query": QUERY + "?" * i, "response": RESPONSE[: 20 + i]}
                for i, s in enumerate([None, "", get_system_message(3)])]
    batched, stats = tokenize_examples(tok, examples, max_len=512)
    for ex, b in zip(examples, batched):
        one = format_example(tok, ex["system"], ex["query"], ex["response"], max_len=512)
        assert b["input_ids"].tolist() == one["input_ids"] and b["labels"].tolist() == one["labels"]
    assert stats["truncated"] == 0


@pytest.mark.slow
def test_train_a_model_on_smollm2s_tokenizer(tmp_path, smollm2_checkpoint):
    """Both stages of `orca-eval train` on a tiny LLaMA that uses SmolLM2's tokenizer (`tokenizer:`):
    the checkpoint keeps 49,152 embeddings and saves the tokenizer with its chat template."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.cli import main

    rows = [{"system": "", "query": f"{QUERY} #{i}", "response": RESPONSE} for i in range(12)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    stage = {"data": "d.jsonl", "epochs": 1, "lr": 1e-3, "batch_size": 2, "max_len": 256}
    (tmp_path / "c.json").write_text(json.dumps({
        "output_dir": "out", "device": "cpu", "tokenizer": str(smollm2_checkpoint),
        "stages": [{"name": "stage1", "init": "tiny:0", **stage}, {"name": "stage2", "init": "stage:stage1", **stage}]}))
    assert main(["train", "--config", str(tmp_path / "c.json")]) == 0
    final = tmp_path / "out" / "stage2" / "epoch-1"
    model = AutoModelForCausalLM.from_pretrained(final)
    assert model.get_input_embeddings().weight.shape[0] == 49152
    tok = AutoTokenizer.from_pretrained(final)
    assert len(tok) == 49152 and tok.chat_template and tok.pad_token == "<|im_end|>"
    losses = [json.loads(line)["loss"] for line in open(tmp_path / "out" / "stage1" / "metrics.jsonl")]
    assert all(torch.isfinite(torch.tensor(losses)))
