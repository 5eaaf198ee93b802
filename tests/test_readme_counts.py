"""The README's example and request counts come from the data: 2,546 AGIEval examples,
but progress counts 2,544 requests (distinct prompts); the README says why."""
from __future__ import annotations

from pathlib import Path

from harness.data import SUITES, load_task_data
from harness.prompts import user_prompt

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_readme_states_examples_and_distinct_prompts_per_suite(data_dir):
    for suite in ("agieval", "bbh"):
        prompts = [user_prompt(t, d, "orca") for t in SUITES[suite] for d in load_task_data(t, str(data_dir)).docs]
        examples, distinct = len(prompts), len(set(prompts))
        assert f"{examples:,} examples" in README
        assert distinct < examples  # the case the README explains
        assert f"{distinct:,} requests for AGIEval's {examples:,} examples" in _flat(README) or \
            f"{distinct:,} for BBH's {examples:,}" in _flat(README), (suite, examples, distinct)
