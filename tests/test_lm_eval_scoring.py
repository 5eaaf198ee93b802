"""lm-eval's own evaluator on our task YAML scores exactly as `orca-eval score` does.

A registered lm-eval model returns fixed outputs (a correct answer, a wrong one, a
hedge, nothing); `simple_evaluate` runs every task of both suites over the first
docs; its `exact_match,robust` / `exact_match,official` numbers must equal the
accuracies `orca-eval score` gives the same outputs."""
from __future__ import annotations

import json

import pytest

from harness.data import SUITES, load_task_data
from harness.prompts import user_prompt
from harness.results import load_run
from harness.suites import get_task
from harness.score_file import score_predictions
from harness.paths import TASKS_DIR

N_DOCS = 4


def _output(task: str, doc_id: int, doc: dict) -> str:
    target = get_task(task).target(doc)
    return [
        f"Let me work through it.\nSo the answer is {target}.",        # right (robust and official, mostly)
        "Considering each option in turn, I would say (A) or maybe True.",  # a hedge / first letter
        f"{target}",                                                    # the bare target
        "",                                                             # nothing
    ][doc_id % 4]


def _outputs(data_dir) -> dict[str, dict]:
    """prompt -> (task, doc_id, output) for the first N_DOCS of every task."""
    out = {}
    for task in SUITES["all"]:
        for i, doc in enumerate(load_task_data(task, str(data_dir)).docs[:N_DOCS]):
            out[user_prompt(task, doc)] = {"task": task, "doc_id": i, "prediction": _output(task, i, doc)}
    return out


@pytest.fixture(scope="module")
def fixed_lm_name():
    from lm_eval.api.model import LM
    from lm_eval.api.registry import register_model

    name = "orca-test-fixed-outputs"

    @register_model(name)
    class FixedOutputsLM(LM):
        """Answers each prompt from a table (prompt -> output); nothing else is asked of it."""

        def __init__(self, table: str = "", **_):
            super().__init__()
            self.table = json.loads(open(table).read())

        def generate_until(self, requests, disable_tqdm: bool = False):
            return [self.table[r.args[0]]["prediction"] for r in requests]

        def loglikelihood(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError("generate_until tasks only")

        def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
            raise NotImplementedError("generate_until tasks only")

    return name


@pytest.mark.slow
def test_lm_eval_simple_evaluate_scores_every_task_like_orca_eval_score(data_dir, tmp_path, fixed_lm_name):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    table = _outputs(data_dir)
    (tmp_path / "table.json").write_text(json.dumps(table))
    tm = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata={"data_dir": str(data_dir)})
    res = simple_evaluate(model=fixed_lm_name, model_args={"table": str(tmp_path / "table.json")},
                          tasks=["orca_agieval", "orca_bbh"], task_manager=tm, limit=N_DOCS,
                          bootstrap_iters=0, log_samples=False)["results"]

    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps(row) + "\n" for row in table.values()))
    run = load_run(score_predictions(preds, "all", tmp_path / "scored", str(data_dir)))
    ours = run.summary["variants"]["sm1"]
    n_right = 0
    for task in SUITES["all"]:
        name = "orca_" + task.replace("/", "_").replace("-", "_")
        mine = ours["tasks"][task]
        assert mine["n"] == N_DOCS
        assert 100 * res[name]["exact_match,robust"] == pytest.approx(mine["accuracy"], abs=0.01), task
        assert 100 * res[name]["exact_match,official"] == pytest.approx(mine["accuracy_official"], abs=0.01), task
        n_right += mine["correct"]
    # the suite numbers: lm-eval's group aggregate is the plain mean over tasks, as ours
    for suite in ("agieval", "bbh"):
        assert 100 * res[f"orca_{suite}"]["exact_match,robust"] == pytest.approx(ours["suites"][suite]["accuracy"], abs=0.01)  # ours: 2 decimals
    # not a vacuous equality: most tasks have right answers among the fixed outputs
    assert n_right >= len(SUITES["all"])
