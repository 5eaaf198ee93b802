"""End to end: `orca-eval run` on a tiny LLaMA checkpoint made here, both suites, both
modes, two system-message variants; resume after SIGKILL; the OpenAI backend against a
real HTTP server; bad input."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main
from harness.data import SUITES
from harness.results import load_run
from harness.runner import RunConfig, run_evaluation

sys.path.insert(0, str(Path(__file__).parent))
from helpers import error_line  # noqa: E402
from openai_server import FakeOpenAIServer  # noqa: E402

FREE_FORM_BBH = {"bbh/dyck_languages", "bbh/multistep_arithmetic_two", "bbh/object_counting", "bbh/word_sorting"}


def _check_consistent(run_dir: Path, tasks: list[str], variants: list[str], n: int, mode: str):
    run = load_run(run_dir)
    assert run.meta["mode"] == mode and run.meta["finished_at"]
    for key in ("model", "data", "decoding", "seed", "packages", "git_commit", "prompt_style", "variants"):
        assert key in run.meta
    assert set(run.meta["data"]["hashes"]) == set(run.meta["tasks"])
    assert sorted(run.variants) == sorted(variants)
    for v in variants:
        assert sorted(run.samples[v]) == sorted(tasks)
        for task in tasks:
            rows = run.samples[v][task]
            assert [r["doc_id"] for r in rows] == list(range(n))
            s = run.summary["variants"][v]["tasks"][task]
            assert s["n"] == n and s["correct"] == sum(r["correct"] for r in rows)
            assert s["accuracy"] == pytest.approx(100 * s["correct"] / n, abs=0.01)
            assert s["partial"] is True
            assert s["unparsed"] == sum(r["extracted"] is None for r in rows)
        for suite in {t.split("/")[0] for t in tasks}:
            accs = [run.summary["variants"][v]["tasks"][t]["accuracy"] for t in tasks if t.startswith(suite)]
            assert run.summary["variants"][v]["suites"][suite]["accuracy"] == pytest.approx(sum(accs) / len(accs), abs=0.01)
    return run


@pytest.mark.parametrize("suite,n", [("agieval", 3), ("bbh", 2)])
def test_generate_two_variants(tiny_checkpoint, tmp_path, suite, n):
    out = tmp_path / "run"
    rc = main(["run", "--suite", suite, "--model", f"hf:{tiny_checkpoint}", "--limit", str(n),
               "--system-message", "1", "--system-message", "none", "--max-new-tokens", "6",
               "--batch-size", "8", "--output", str(out), "--no-progress"])
    assert rc == 0
    run = _check_consistent(out, SUITES[suite], ["sm1", "none"], n, "generate")
    # the two variants really sent different prompts
    t = SUITES[suite][0]
    assert run.samples["sm1"][t][0]["prompt_sha"] != run.samples["none"][t][0]["prompt_sha"]
    assert run.meta["variants"]["sm1"] == {"system_message": "", "system_message_id": 1}


@pytest.mark.parametrize("suite,n", [("agieval", 4), ("bbh", 2)])
def test_loglikelihood_two_variants(tiny_checkpoint, tmp_path, suite, n):
    out = tmp_path / "run"
    run_dir = run_evaluation(RunConfig(suite=suite, model=f"hf:{tiny_checkpoint}", limit=n,
                                       system_messages=["1", "7"], mode="loglikelihood", output=str(out),
                                       progress=False))
    tasks = [t for t in SUITES[suite] if t not in FREE_FORM_BBH]
    run = _check_consistent(run_dir, tasks, ["sm1", "sm7"], n, "loglikelihood")
    if suite == "bbh":
        assert set(run.meta["skipped_tasks"]) == FREE_FORM_BBH
    row = run.samples["sm1"][tasks[0]][0]
    assert len(row["logprobs"]) >= 2 and row["extracted"] is not None  # always picks an option
    assert row["correct"] == (row["extracted"].strip("()") == row["target"].strip("()"))


def test_rerun_is_instant_from_cache(tiny_checkpoint, tmp_path):
    args = ["run", "--suite", "agieval/lsat-ar", "--model", f"hf:{tiny_checkpoint}", "--limit", "6",
            "--max-new-tokens", "24", "--no-progress"]
    t0 = time.perf_counter()
    assert main(args + ["--output", str(tmp_path / "a")]) == 0
    first = time.perf_counter() - t0
    a = load_run(tmp_path / "a")
    t0 = time.perf_counter()
    assert main(args + ["--output", str(tmp_path / "b")]) == 0
    b = load_run(tmp_path / "b")
    assert [r["output"] for r in a.samples["sm1"]["agieval/lsat-ar"]] == \
           [r["output"] for r in b.samples["sm1"]["agieval/lsat-ar"]]
    assert b.meta["elapsed_s"] < a.meta["elapsed_s"] or b.meta["elapsed_s"] < 0.5, (first, b.meta["elapsed_s"])


def test_kill_9_and_resume_loses_and_duplicates_nothing(tiny_checkpoint, tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "ORCA_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"}
    out = tmp_path / "run"
    tasks = ["agieval/sat-math", "agieval/aqua-rat", "agieval/sat-en-without-passage"]
    cmd = [sys.executable, "-m", "harness.cli", "run", "--suite", ",".join(tasks), "--model", f"hf:{tiny_checkpoint}",
           "--limit", "16", "--batch-size", "2", "--max-new-tokens", "12", "--output", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cache_files = lambda: list((cache / "outputs").glob("*.jsonl")) if (cache / "outputs").exists() else []
    deadline = time.time() + 240
    while time.time() < deadline:
        files = cache_files()
        if files and sum(1 for _ in open(files[0])) >= 16:
            break
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = sum(1 for _ in open(cache_files()[0]))
    assert 16 <= done_before < 48, "kill did not land mid-run"
    assert not (out / "summary.json").exists()  # no half-written result

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    keys = [json.loads(line)["k"] for line in open(cache_files()[0]) if line.endswith("\n")]
    assert len(keys) == len(set(keys)) == 48  # every request computed exactly once
    run = load_run(out)
    for task in tasks:
        rows = run.samples["sm1"][task]
        assert [r["doc_id"] for r in rows] == list(range(16))
        assert all(r["output"] is not None for r in rows)


def _agieval_answer_key(data_dir, tasks):
    from harness.data import load_task_data
    from harness.prompts import user_prompt
    key = {}
    for t in tasks:
        for doc in load_task_data(t, str(data_dir)).docs:
            key[user_prompt(t, doc)] = doc["label"]
    return key


def test_openai_backend_with_429_and_500s(data_dir, tmp_path, monkeypatch):
    tasks = ["agieval/lsat-ar", "agieval/sat-math"]
    answers = _agieval_answer_key(data_dir, tasks)
    seen_systems = []

    def responder(messages, model):
        system = [m["content"] for m in messages if m["role"] == "system"]
        seen_systems.append(system[0] if system else None)
        user = [m["content"] for m in messages if m["role"] == "user"][0]
        return f"Let me think about each option.\nSo the answer is ({answers[user]})."

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")
    with FakeOpenAIServer(rpm=240, window_s=2.0, faults={"500": 0.1, "503": 0.05}, responder=responder,
                          api_key="sk-test-secret-123") as srv:
        out = tmp_path / "api"
        rc = main(["run", "--suite", ",".join(tasks), "--model", "openai:gpt-3.5-turbo", "--base-url", srv.base_url,
                   "--limit", "20", "--system-message", "2", "--system-message", "none", "--concurrency", "8",
                   "--max-retries", "16",  # unpaced on purpose (to provoke 429s): 429s use up retries too
                   "--output", str(out), "--no-progress"])
        stats = srv.stats()
    assert rc == 0
    run = load_run(out)
    for v in ("sm2", "none"):
        for t in tasks:
            assert run.summary["variants"][v]["tasks"][t]["accuracy"] == 100.0
    assert stats["rate_limited"] > 0 and stats["faults"]["500"] > 0
    assert stats["ok"] == 80
    assert None in seen_systems and any(s and s.startswith("You are an AI assistant. Provide") for s in seen_systems)
    for f in out.rglob("*"):
        if f.is_file():
            assert "sk-test-secret-123" not in f.read_text()


def test_bad_input_errors(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "o"
    base = ["run", "--limit", "1", "--no-progress", "--output", str(out)]
    assert main(base + ["--suite", "agieval/nope", "--model", f"hf:{tiny_checkpoint}"]) == 2
    assert "unknown suite or task" in error_line(capsys)
    assert main(base + ["--suite", "agieval", "--model", f"hf:{tiny_checkpoint}", "--system-message", "42"]) == 2
    assert "unknown system message id 42" in error_line(capsys)
    assert main(base + ["--suite", "agieval", "--model", f"hf:{tmp_path}/missing"]) == 2
    assert "does not exist" in error_line(capsys)
    not_lm = tmp_path / "bert"
    not_lm.mkdir()
    (not_lm / "config.json").write_text(json.dumps({"architectures": ["BertModel"], "model_type": "bert"}))
    assert main(base + ["--suite", "agieval", "--model", f"hf:{not_lm}"]) == 2
    assert "not a causal language model" in error_line(capsys)
    assert main(base + ["--suite", "agieval", "--model", "openai:gpt-4", "--base-url", "http://127.0.0.1:9/v1",
                        "--max-retries", "0"]) == 2
    assert "cannot connect" in error_line(capsys)
    assert main(base + ["--suite", "agieval", "--model", "llama:7b"]) == 2
    assert "expected one of hf:PATH" in error_line(capsys)
    assert not out.exists()  # nothing half-written by any of them

    # an output directory holding a run of a different model
    other = tmp_path / "other-ckpt"
    from orca.tiny import make_tiny_llama
    make_tiny_llama(other, seed=1, tokenizer_path=tiny_checkpoint)
    assert main(base + ["--suite", "agieval/lsat-ar", "--model", f"hf:{tiny_checkpoint}", "--max-new-tokens", "2"]) == 0
    capsys.readouterr()
    before = (out / "summary.json").read_text()
    assert main(base + ["--suite", "agieval/lsat-ar", "--model", f"hf:{other}", "--max-new-tokens", "2"]) == 2
    assert "holds a run of a different model" in error_line(capsys)
    assert (out / "summary.json").read_text() == before


def test_sampled_repeats_report_mean_and_spread(tiny_checkpoint, tmp_path):
    out = tmp_path / "rep"
    run_evaluation(RunConfig(suite="bbh/navigate", model=f"hf:{tiny_checkpoint}", limit=4, temperature=0.9,
                             top_p=0.95, repeats=3, max_new_tokens=8, seed=7, output=str(out), progress=False))
    run = load_run(out)
    rows = run.samples["sm1"]["bbh/navigate"]
    assert sorted((r["repeat"], r["doc_id"]) for r in rows) == [(k, i) for k in range(3) for i in range(4)]
    outputs = {(r["repeat"], r["doc_id"]): r["output"] for r in rows}
    assert any(outputs[(0, i)] != outputs[(1, i)] for i in range(4))  # really sampled
    s = run.summary["variants"]["sm1"]["tasks"]["bbh/navigate"]
    per_rep = [100 * sum(r["correct"] for r in rows if r["repeat"] == k) / 4 for k in range(3)]
    assert s["repeats"] == 3 and s["accuracy"] == pytest.approx(sum(per_rep) / 3, abs=0.01)
    assert s["accuracy_min"] == min(per_rep) and s["accuracy_max"] == max(per_rep)
    assert run.meta["decoding"] == {"do_sample": True, "temperature": 0.9, "top_p": 0.95, "max_new_tokens": 8}


def test_repeats_without_sampling_is_refused(capsys):
    assert main(["run", "--suite", "bbh/navigate", "--repeats", "3"]) == 2
    assert "--repeats > 1 needs sampling" in error_line(capsys)


def test_data_parallel_under_torchrun_splits_and_completes(tiny_checkpoint, tmp_path):
    """Two processes (gloo on CPU; NCCL on GPUs) each take half of the requests; rank 0
    writes complete results, every request is computed exactly once, and rank 0's progress
    counts the whole run (it reported 4/4 of 8 before)."""
    torchrun = Path(sys.executable).parent / "torchrun"
    cache = tmp_path / "cache"
    env = {**os.environ, "ORCA_CACHE_DIR": str(cache)}
    out = tmp_path / "dp"
    r = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "harness.cli", "run", "--suite",
                        "bbh/navigate,bbh/web_of_lies", "--model", f"hf:{tiny_checkpoint}", "--limit", "9",
                        "--max-new-tokens", "4", "--output", str(out)],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    run = load_run(out)
    assert run.meta["world_size"] == 2
    for t in ("bbh/navigate", "bbh/web_of_lies"):
        assert [s["doc_id"] for s in run.samples["sm1"][t]] == list(range(9))
        assert all(s["output"] is not None for s in run.samples["sm1"][t])
    keys = [json.loads(line)["k"] for f in (cache / "outputs").glob("*.jsonl") for line in open(f)]
    assert len(keys) == len(set(keys)) == len({s["prompt_sha"] for v in run.samples["sm1"].values() for s in v})
    progress = [line for line in r.stdout.splitlines() if line.startswith("all tasks:")]
    assert progress[0] == f"all tasks: 0/{len(keys)} requests"
    assert progress[-1].startswith(f"all tasks: {len(keys)}/{len(keys)} requests in "), r.stdout
