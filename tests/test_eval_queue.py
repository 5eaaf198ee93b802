"""One request queue per run: every missing request of every task and variant goes to
the backend in one call (full, length-sorted batches across tasks), results reach the
cache as they are produced (kill -9 mid-run loses and duplicates nothing), and sampled
outputs of per-request-seed backends do not depend on --batch-size or task order."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.results import load_run
from harness.runner import RunConfig, run_evaluation

sys.path.insert(0, str(Path(__file__).parent))
from openai_server import FakeOpenAIServer  # noqa: E402


def test_hf_sends_the_whole_run_in_one_call_to_the_engine(tiny_checkpoint, tmp_path, monkeypatch):
    from harness.models.lmeval_backend import LMEvalBackend

    calls = []
    real_generate = LMEvalBackend.generate

    def generate(self, prompts, *a, **kw):
        calls.append(len(prompts))
        return real_generate(self, prompts, *a, **kw)

    monkeypatch.setattr(LMEvalBackend, "generate", generate)
    tasks = ["bbh/navigate", "bbh/web_of_lies", "bbh/sports_understanding"]
    runs = {}
    for batch in (8, 3):
        runs[batch] = load_run(run_evaluation(RunConfig(
            suite=",".join(tasks), model=f"hf:{tiny_checkpoint}", limit=3, system_messages=["1", "none"],
            batch_size=batch, max_new_tokens=4, temperature=0.8, use_cache=False,
            output=str(tmp_path / f"run{batch}"), progress=False)))
    # 3 tasks x 3 docs x 2 variants = 18 requests: one call per run, across tasks and variants
    assert calls == [18, 18]
    run = runs[8]
    assert all(len(run.samples[v][t]) == 3 for v in ("sm1", "none") for t in tasks)
    assert run.meta["engine"]["slots"] == 8 and runs[3].meta["engine"]["slots"] == 3
    assert run.meta["model"]["generation"] == "engine"
    # the engine samples with one generator per request: the batch does not change a sample
    assert run.meta["sampling_seeds"]["per_request"] is True
    assert run.meta["sampling_seeds"]["depends_on_batch_composition"] is False
    assert {(v, t, r["doc_id"]): r["output"] for v, by in run.samples.items() for t, rows in by.items() for r in rows} \
        == {(v, t, r["doc_id"]): r["output"] for v, by in runs[3].samples.items() for t, rows in by.items()
            for r in rows}
    assert run.meta["stop_sequences"] == ["</s>", "<|im_end|>", "### User:"]


def _sampling_responder(seen: list):
    """Imitates an API that samples: a seeded request gets an answer fixed by (seed, prompt);
    an unseeded one a fresh random answer, as a real API gives."""
    def respond(messages, model, request):
        seen.append(request.get("seed"))
        user = messages[-1]["content"]
        seed = request.get("seed")
        salt = os.urandom(8).hex() if seed is None else str(seed)
        word = ["Yes", "No"][hashlib.sha256(f"{salt}|{user}".encode()).digest()[0] % 2]
        return f"sample {hashlib.sha256(f'{salt}|{user}'.encode()).hexdigest()[:10]}: {word}."
    return respond


def test_openai_sampled_outputs_do_not_depend_on_batch_size_or_task_order(tmp_path, monkeypatch):
    import harness.models.openai_chat as backends

    clients = []
    real_init = backends.SeededChatClient.__init__

    def counting_init(self, *a, **kw):
        clients.append(1)
        real_init(self, *a, **kw)

    monkeypatch.setattr(backends.SeededChatClient, "__init__", counting_init)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    seen: list = []
    outputs = {}
    with FakeOpenAIServer(responder=_sampling_responder(seen)) as srv:
        for name, tasks, batch, conc in (("a", "bbh/navigate,bbh/web_of_lies", 1, 1),
                                         ("b", "bbh/web_of_lies,bbh/navigate", 64, 8)):
            clients.clear()
            out = run_evaluation(RunConfig(
                suite=tasks, model="openai:gpt-3.5-turbo", base_url=srv.base_url, limit=5, repeats=2,
                temperature=0.7, system_messages=["1", "none"], batch_size=batch, concurrency=conc,
                use_cache=False, output=str(tmp_path / name), progress=False))
            assert len(clients) == 1  # one client (one rate limiter) for all 40 requests
            run = load_run(out)
            assert run.meta["sampling_seeds"]["per_request"] is True
            outputs[name] = {(v, t, r["doc_id"], r["repeat"]): r["output"]
                             for v, by_task in run.samples.items() for t, rows in by_task.items() for r in rows}
    assert len(outputs["a"]) == 2 * 2 * 5 * 2 and None not in seen
    assert outputs["a"] == outputs["b"]
    # really sampled: the two repeats of an example differ
    assert any(outputs["a"][(v, t, d, 0)] != outputs["a"][(v, t, d, 1)] for (v, t, d, r) in outputs["a"])


@pytest.mark.slow
def test_kill_9_mid_multi_task_multi_variant_run(tiny_checkpoint, tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "ORCA_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"}
    out = tmp_path / "run"
    tasks = ["agieval/sat-math", "agieval/aqua-rat"]
    cmd = [sys.executable, "-m", "harness.cli", "run", "--suite", ",".join(tasks), "--model", f"hf:{tiny_checkpoint}",
           "--system-message", "1", "--system-message", "none", "--limit", "8", "--batch-size", "2",
           "--max-new-tokens", "8", "--output", str(out), "--no-progress"]
    total = len(tasks) * 2 * 8
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    outputs = cache / "outputs"
    deadline = time.time() + 240
    while time.time() < deadline:
        files = list(outputs.glob("*.jsonl")) if outputs.exists() else []
        if files and sum(1 for _ in open(files[0])) >= 8:
            break
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cache_file = next(outputs.glob("*.jsonl"))
    before = [line for line in open(cache_file) if line.endswith("\n")]
    assert 8 <= len(before) < total, "kill did not land mid-run"
    assert not (out / "summary.json").exists()

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    after = [line for line in open(cache_file) if line.endswith("\n")]
    assert after[: len(before)] == before  # nothing computed before the kill was lost or rewritten
    keys = [json.loads(line)["k"] for line in after]
    assert len(keys) == len(set(keys)) == total  # every request computed exactly once
    run = load_run(out)
    for v in ("sm1", "none"):
        for t in tasks:
            rows = run.samples[v][t]
            assert [r["doc_id"] for r in rows] == list(range(8)) and all(r["output"] is not None for r in rows)
