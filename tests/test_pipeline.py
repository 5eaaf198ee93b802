"""`orca-eval pipeline` end to end: FLAN sample -> teacher collection from a real local
chat-completions server -> stage 1 -> evaluate -> stage 2 -> evaluate -> compare -> report."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from openai_server import FakeOpenAIServer  # noqa: E402

from harness import ci_regression as ci  # noqa: E402
from harness.pipeline import load_pipeline_config, run_pipeline  # noqa: E402

pytestmark = pytest.mark.slow


def _flan_file(path: Path) -> Path:
    rows = []
    for sub, n in (("CoT", 6), ("NIv2", 8), ("Flan2021", 8), ("T0", 8), ("Dialog", 3)):
        for i in range(n):
            rows.append({"inputs": f"{sub} question number {i}: what is {i} plus {i}?", "targets": str(2 * i),
                         "task_source": sub, "task_name": f"{sub.lower()}_task_{i % 3}",
                         "template_type": "zs_opt" if i % 2 else "zs_noopt"})
    rows.append({"inputs": "a few-shot one", "targets": "x", "task_source": "T0", "task_name": "t",
                 "template_type": "fs_opt"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_pipeline_sample_collect_train_evaluate_compare_report(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-secret")
    data = ci.write_ci_data(tmp_path / "ci", n_stage1=2, n_stage2=2, n_eval=12)
    _flan_file(tmp_path / "flan.jsonl")  # the pipeline config names it

    def responder(messages, model):
        user = messages[-1]["content"]
        extra = " Step by step, the numbers add up." if "gpt-4" in model else ""
        return f"The answer to '{user[:30]}' follows.{extra}"

    with FakeOpenAIServer(rpm=6000, tpm=10 ** 7, responder=responder) as srv:
        cfg_path = tmp_path / "pipeline.yaml"
        cfg_path.write_text(f"""
run_dir: run
sample: {{flan: [flan.jsonl], scale: 1.0, seed: 0}}
collect:
  stage1: {{model: gpt-3.5-turbo, base_url: "{srv.base_url}", rpm: 6000, queries: flan5m}}
  stage2: {{model: gpt-4, base_url: "{srv.base_url}", rpm: 6000, queries: flan1m}}
train:
  seed: 0
  device: cpu
  log_every: 5
  stages:
    - {{name: stage1, init: tiny:0, epochs: 1, lr: 3.0e-3, batch_size: 2, max_len: 256}}
    - {{name: stage2, init: "stage:stage1", epochs: 1, lr: 1.0e-3, batch_size: 2, max_len: 256}}
evaluate: {{suite: bbh/date_understanding, mode: loglikelihood, data_dir: "{data['eval_data_dir']}"}}
""")
        cfg = load_pipeline_config(cfg_path)
        report = Path(run_pipeline(cfg))

        run = tmp_path / "run"
        steps = sorted(p.stem for p in (run / "steps").glob("*.json"))
        assert steps == sorted(["sample", "collect-stage1", "collect-stage2", "decontaminate", "train-stage1",
                                "evaluate-stage1",
                                "train-stage2", "evaluate-stage2", "compare", "report"])
        queries5m = [json.loads(line) for line in (run / "queries/flan5m.jsonl").read_text().splitlines()]
        teacher1 = [json.loads(line) for line in (run / "teacher/stage1.jsonl").read_text().splitlines()]
        assert len(queries5m) == 30  # zero-shot, no Dialog
        assert sorted(r["id"] for r in teacher1) == sorted(q["id"] for q in queries5m)
        assert all(r["status"] == "ok" and r["model"] == "gpt-3.5-turbo" for r in teacher1)
        stats = json.loads((run / "train/stage1/data_stats.json").read_text())
        assert stats["packing"]["examples"] == 30
        text = report.read_text()
        assert "| stage1 |" in text and "| stage2 |" in text and "stage2 vs stage1" in text
        assert (run / "eval/stage2/summary.json").exists() and (run / "compare.json").exists()

        # Rerun: every step is done, nothing is asked of the teacher again.
        before = srv.stats()
        run_pipeline(load_pipeline_config(cfg_path))
        assert srv.stats() == before
