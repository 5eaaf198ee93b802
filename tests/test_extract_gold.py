"""Gold answers, stated in each common phrasing, score 100 % under the robust extractor on every
example of both suites; the damaged BBH targets are found from the data (issue 11)."""
from __future__ import annotations

import pytest

from harness.data import SUITES, load_task_data
from harness.extract import extract_answer, is_correct
from harness.data import damaged_targets
from harness.suites import get_task

PHRASINGS = {
    "so_the_answer_is": "So the answer is {}.",
    "the_answer_is": "The answer is {}",
    "answer_colon": "Answer: {}",
    "alone": "{}",
}
N_EXAMPLES = {"agieval": 2546, "bbh": 6511}


@pytest.fixture(scope="module")
def docs(data_dir):
    return {t: load_task_data(t, str(data_dir)).docs for t in SUITES["all"]}


@pytest.mark.parametrize("suite", ["agieval", "bbh"])
def test_gold_scores_100_percent_in_every_phrasing(docs, suite):
    examples = [(t, d) for t in SUITES[suite] for d in docs[t]]
    assert len(examples) == N_EXAMPLES[suite]
    wrong = {name: [] for name in PHRASINGS}
    for task, doc in examples:
        t = get_task(task)
        family, options, target = t.family, t.options(doc), t.target(doc)
        for name, phrasing in PHRASINGS.items():
            got = extract_answer(phrasing.format(target), family, options)
            if not is_correct(got, target, family):
                wrong[name].append((task, target, got))
    assert {name: len(w) for name, w in wrong.items()} == {name: 0 for name in PHRASINGS}, \
        {name: w[:3] for name, w in wrong.items() if w}


def test_damaged_targets_are_the_three_split_bbh_options(docs):
    assert damaged_targets(docs) == {
        "bbh/movie_recommendation": ["Monsters, Inc"],
        "bbh/ruin_names": ["dearth, wind, & fire", "rita, sue and bob poo"],
    }
    # a letter task whose targets are all letters has none; other families are not letter tasks
    assert damaged_targets({"bbh/snarks": [{"target": "(A)"}], "bbh/navigate": [{"target": "Yes"}]}) == {}
