"""The task folders are real lm-eval tasks: TaskManager loads all 35 from tasks/, their
prompts are the harness's zero-shot prompts, their named filters are our extractors."""
from harness import extract
from harness.data import ALL_TASKS, load_task_data
from harness.suites import get_task
from harness.prompts import user_prompt
from harness.paths import TASKS_DIR


def test_task_manager_loads_every_task_with_our_prompts_and_filters(data_dir):
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata={"data_dir": str(data_dir)})
    names = {f"orca_{t.replace('/', '_').replace('-', '_')}": t for t in ALL_TASKS}
    assert set(names) <= set(tm.all_tasks) and len(names) == 35
    sample = ["orca_agieval_lsat_ar", "orca_agieval_sat_en_without_passage", "orca_bbh_navigate",
              "orca_bbh_dyck_languages"]
    loaded = tm.load(sample)["tasks"]
    for name in sample:
        task, key = loaded[name], names[name]
        docs = list(task.test_docs())
        ref = load_task_data(key, str(data_dir)).docs
        assert len(docs) == len(ref)
        assert task.doc_to_text(docs[5]) == user_prompt(key, ref[5])
        target = task.doc_to_target(docs[5])
        assert target == (ref[5]["label"] if key.startswith("agieval/") else ref[5]["target"])
        assert task.config.num_fewshot == 0
        assert [f["name"] for f in task.config.filter_list] == ["robust", "official"]
        robust = task.config.filter_list[0]["filter"][0]["filter_fn"]
        official = task.config.filter_list[1]["filter"][0]["filter_fn"]
        said = f"Let me explain each step.\nSo the answer is {target}."
        assert extract.is_correct(robust([[said]], [docs[5]])[0][0], target, get_task(key).family)
        assert robust([["I cannot answer that."]], [docs[5]]) == [[""]]
        assert isinstance(official([[said]], [docs[5]])[0][0], str)


def _copy_tasks(tmp_path):
    import shutil

    dst = tmp_path / "tasks"
    shutil.copytree(TASKS_DIR, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def test_suites_and_families_come_from_the_yaml():
    from harness import data, suites as registry

    suites = registry.load_suites()
    assert [t.key for t in suites["agieval"]] == data.SUITES["agieval"]
    assert data.SUITES["agieval"][5:] == ["agieval/sat-math", "agieval/sat-en", "agieval/sat-en-without-passage"]
    assert get_task("bbh/navigate").family == "yes_no"
    assert {t.family for t in suites["agieval"]} == {"mc"}


# What every generation must stop at, written here rather than read from tasks/ (a check
# against a union of the YAML's own lists could not fail): the end of the assistant's turn
# in each prompt format the harness uses. "</s>": the plain Orca template's end of a
# response (orca/template.py) and LLaMA's end of sequence; "<|im_end|>": ChatML's end of
# turn (chat templates such as SmolLM2's); "### User:": the plain template's next user
# turn, which a base model goes on to write after its answer.
END_OF_TURN = ("</s>", "<|im_end|>", "### User:")


def test_every_task_stops_at_the_end_of_the_assistant_turn():
    from harness import suites
    from harness.models.lmeval_backend import STOP_SEQUENCES
    from orca.template import USER_HEADER

    assert USER_HEADER.strip() in END_OF_TURN  # the template this list was written for
    tasks = suites.all_tasks()
    assert len(tasks) == 35
    wrong = {key: t.until for key, t in tasks.items() if t.until != END_OF_TURN}
    assert wrong == {}
    assert STOP_SEQUENCES == list(END_OF_TURN)  # the fallback when a request names none


def test_malformed_task_yaml_is_one_error_naming_file_and_field(tmp_path):
    import pytest

    from orca.errors import UserError
    from harness.suites import check_families, load_suites

    cases = [
        ("bbh/navigate.yaml", lambda t: t.replace("family: yes_no", "family: maybe"),
         "navigate.yaml: field 'metadata.family': unknown answer family 'maybe'"),
        ("bbh/navigate.yaml", lambda t: t.replace("  family: yes_no\n", ""), "navigate.yaml: missing field 'metadata.family'"),
        ("bbh/navigate.yaml", lambda t: t.replace("task: bbh/navigate", "task: [bbh"), "navigate.yaml:5: malformed YAML"),
        ("bbh/navigate.yaml", lambda t: t.replace("task: bbh/navigate", "task: bbh/nav"),
         "navigate.yaml: field 'dataset_kwargs.task' 'bbh/nav' does not match"),
        ("bbh/_bbh_template_yaml", lambda t: t.replace('until: ["</s>", "<|im_end|>", "### User:"]', "until: 5"),
         "boolean_expressions.yaml: field 'generation_kwargs.until' must be a list"),
        ("agieval/_agieval.yaml", lambda t: t.replace("orca_agieval_lsat_ar", "orca_agieval_lsat_xx"),
         "_agieval.yaml: field 'task' names 'orca_agieval_lsat_xx'"),
    ]
    for i, (rel, edit, message) in enumerate(cases):
        tasks = _copy_tasks(tmp_path / str(i))
        (tasks / rel).write_text(edit((tasks / rel).read_text()))
        with pytest.raises(UserError) as e:
            load_suites(tasks)
            check_families(tasks)
        assert message in str(e.value) and str(tasks) in str(e.value) and "\n" not in str(e.value), str(e.value)


def test_cli_with_a_broken_task_yaml_exits_2_with_one_line(tmp_path, data_dir):
    """The whole project copied beside a broken tasks/ (tasks/ is found next to the code)."""
    import shutil
    import subprocess
    import sys

    root = TASKS_DIR.parent
    for pkg in ("harness", "orca"):
        shutil.copytree(root / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    tasks = _copy_tasks(tmp_path)
    (tasks / "bbh" / "navigate.yaml").write_text((tasks / "bbh" / "navigate.yaml").read_text().replace(
        "family: yes_no", "family: yesno"))
    r = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--suite", "bbh/navigate", "--limit", "1",
                        "--data-dir", str(data_dir), "--no-progress", "--output", str(tmp_path / "out")],
                       cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert err.startswith("orca-eval: error:") and "\n" not in err, err
    assert "tasks/bbh/navigate.yaml: field 'metadata.family': unknown answer family 'yesno'" in err
    assert not (tmp_path / "out").exists()
