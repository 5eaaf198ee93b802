"""The task folders are real lm-eval tasks: TaskManager loads all 35 from tasks/, their
prompts are the harness's zero-shot prompts, their named filters are our extractors."""
from harness import extract
from harness.data import ALL_TASKS, load_task_data
from harness.scoring import task_family
from harness.prompts import user_prompt
from orca.paths import TASKS_DIR


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
        assert extract.is_correct(robust([[said]], [docs[5]])[0][0], target, task_family(key))
        assert robust([["I cannot answer that."]], [docs[5]]) == [[""]]
        assert isinstance(official([[said]], [docs[5]])[0][0], str)
