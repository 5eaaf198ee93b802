"""A benchmark is a folder of task YAML plus one suite module (harness/suites/): a third one,
written here into tmp_path and registered, goes through the real `run`, `score` and
`report` with no other edit -- its data layout, prompts, target, options, loglikelihood
choices, display name and generation budget all come from those two."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from harness import suites
from harness.cli import main
from harness.results import load_run

sys.path.insert(0, str(Path(__file__).parent))
from helpers import error_line  # noqa: E402

GROUP = """group: orca_toy
task:
  - orca_toy_weather
  - orca_toy_colours
"""
TEMPLATE = """custom_dataset: !function utils.load_dataset
output_type: generate_until
generation_kwargs:
  until: ["</s>", "### User:"]
  do_sample: false
  max_gen_toks: 7
metadata:
  version: 1.0
  family: yes_no
"""
TASK = """include: _toy_template_yaml
task: orca_toy_{name}
dataset_kwargs:
  task: toy/{name}
"""

# The suite module: what only code can say about the toy benchmark.
MODULE = '''
import json
from pathlib import Path

from harness import extract
from harness.suites.base import Suite
from orca.errors import UserError


class Toy(Suite):
    name = "toy"
    title = "Toy"
    order = 5
    target_field = "answer"
    match_field = "q"
    prompts = {"orca": lambda doc: "Toy question: " + doc["q"],
               "agieval": lambda doc: "Q: " + doc["q"] + "\\nA:"}

    def data_files(self, root, name):
        return [Path(root) / "toy" / f"{name}.json"]

    def rows(self, path):
        return [(f"{path}[{i}]", row) for i, row in enumerate(json.loads(Path(path).read_text()))]

    def validate_doc(self, row, where):
        if not isinstance(row, dict) or not isinstance(row.get("q"), str) or "answer" not in row:
            raise UserError(f"{where}: a toy example is {{q, answer}}")
        return {"q": row["q"], "answer": row["answer"]}

    def doc_options(self, doc):
        return extract.options_from_text(doc["q"])

    def document_text(self, doc):
        return doc["q"]


SUITE = None  # made by the test with its own tasks folder
'''

WEATHER = [{"q": f"Is it raining in town {i}?", "answer": "Yes" if i % 2 else "No"} for i in range(4)]
COLOURS = [{"q": f"Which is a colour?\nOptions:\n(A) stone {i}\n(B) blue\n(C) table", "answer": "(B)"} for i in range(4)]


@pytest.fixture
def toy(tmp_path):
    tasks = tmp_path / "tasks" / "toy"
    tasks.mkdir(parents=True)
    (tasks / "_toy.yaml").write_text(GROUP)
    (tasks / "_toy_template_yaml").write_text(TEMPLATE)
    (tasks / "weather.yaml").write_text(TASK.format(name="weather"))
    # a task file may set its own family, as the real ones do
    (tasks / "colours.yaml").write_text(TASK.format(name="colours") + "metadata:\n  version: 1.0\n  family: mc\n")
    data = tmp_path / "data" / "toy"
    data.mkdir(parents=True)
    (data / "weather.json").write_text(json.dumps(WEATHER))
    (data / "colours.json").write_text(json.dumps(COLOURS))
    (tmp_path / "toy_suite.py").write_text(MODULE)
    spec = importlib.util.spec_from_file_location("toy_suite", tmp_path / "toy_suite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    suite = suites.register(module.Toy(tmp_path / "tasks"))
    try:
        yield tmp_path
    finally:
        suites.unregister(suite.name)


def test_a_registered_suite_is_resolved_with_its_yaml(toy):
    weather = suites.get_task("toy/weather")
    assert [t.key for t in suites.resolve("toy")] == ["toy/weather", "toy/colours"]
    assert suites.resolve("colours")[0].family == "mc"            # bare names work for it too
    assert (weather.family, weather.until, weather.max_gen_toks) == ("yes_no", ("</s>", "### User:"), 7)
    assert weather.prompt(WEATHER[0], "agieval") == "Q: Is it raining in town 0?\nA:"
    assert suites.get_task("toy/colours").loglikelihood_choices(COLOURS[0]) == (
        ["(A)", "(B)", "(C)"], ["(A) stone 0", "(B) blue", "(C) table"])
    assert weather.loglikelihood_choices(WEATHER[0]) == (["Yes", "No"], ["Yes", "No"])
    from harness.data import SUITES
    assert SUITES["all"][-2:] == ["toy/weather", "toy/colours"]


def test_a_third_benchmark_runs_scores_and_reports_through_the_real_paths(toy, tiny_checkpoint, capsys):
    data = toy / "data"
    out = toy / "gen"
    assert main(["run", "--suite", "toy", "--model", f"hf:{tiny_checkpoint}", "--limit", "3", "--data-dir", str(data),
                 "--batch-size", "4", "--output", str(out), "--no-progress"]) == 0
    run = load_run(out)
    assert run.meta["decoding"]["max_new_tokens"] == 7                 # the YAML's max_gen_toks
    assert run.meta["stop_sequences"] == ["</s>", "### User:"]                # the YAML's until
    assert sorted(run.samples["sm1"]) == ["toy/colours", "toy/weather"]
    rows = run.samples["sm1"]["toy/weather"]
    assert [r["target"] for r in rows] == ["No", "Yes", "No"]
    assert run.summary["variants"]["sm1"]["suites"]["toy"]["n_tasks"] == 2

    ll = toy / "ll"
    assert main(["run", "--suite", "toy", "--model", f"hf:{tiny_checkpoint}", "--limit", "2", "--data-dir", str(data),
                 "--mode", "loglikelihood", "--output", str(ll), "--no-progress"]) == 0
    row = load_run(ll).samples["sm1"]["toy/colours"][0]
    assert row["extracted"] in ("(A)", "(B)", "(C)") and len(row["logprobs"]) == 3

    preds = toy / "preds.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in [
        {"task": "weather", "doc_id": 1, "prediction": "Yes, it is."},
        {"task": "toy/weather", "input": WEATHER[2]["q"], "prediction": "Yes."},    # matched by the suite's field
        {"task": "toy/colours", "index": 0, "prediction": "The answer is (B)."},
    ]))
    scored = toy / "scored"
    assert main(["score", "--suite", "toy", "--predictions", str(preds), "--data-dir", str(data),
                 "--output", str(scored)]) == 0
    tasks = load_run(scored).summary["variants"]["sm1"]["tasks"]
    assert (tasks["toy/weather"]["correct"], tasks["toy/weather"]["n"]) == (1, 2)
    assert (tasks["toy/colours"]["correct"], tasks["toy/colours"]["n"]) == (1, 1)
    capsys.readouterr()

    assert main(["report", str(out), "--format", "markdown", "--reference", "none"]) == 0
    assert "Toy" in capsys.readouterr().out                           # the suite's display name

    bad = toy / "bad"
    (bad / "toy").mkdir(parents=True)
    (bad / "toy" / "weather.json").write_text(json.dumps([{"question": "?"}]))
    assert main(["run", "--suite", "toy/weather", "--model", f"hf:{tiny_checkpoint}", "--data-dir", str(bad),
                 "--output", str(toy / "never"), "--no-progress"]) == 2
    assert error_line(capsys).endswith("weather.json[0]: a toy example is {q, answer}")


def test_a_folder_under_tasks_without_its_module_is_one_error(tmp_path, monkeypatch):
    import shutil

    from orca.errors import UserError

    tasks = tmp_path / "tasks"
    shutil.copytree(suites.TASKS_DIR, tasks, ignore=shutil.ignore_patterns("__pycache__"))
    (tasks / "mmlu").mkdir()
    (tasks / "mmlu" / "_mmlu.yaml").write_text("group: orca_mmlu\ntask: []\n")
    monkeypatch.setattr(suites, "TASKS_DIR", tasks)
    suites._builtin.cache_clear()
    try:
        with pytest.raises(UserError, match=r"tasks/mmlu: no suite module harness/suites/mmlu\.py"):
            suites.suites()
    finally:
        monkeypatch.undo()
        suites._builtin.cache_clear()
