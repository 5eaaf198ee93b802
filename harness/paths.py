"""Where the evaluation side keeps its files: the task folders and the results tree.

(The data, tokenizer and cache directories, which training needs too, are in orca/paths.py.)"""
from __future__ import annotations

from orca.paths import PROJECT_ROOT

TASKS_DIR = PROJECT_ROOT / "tasks"
RESULTS_DIR = PROJECT_ROOT / "results"
RUNS_DIR = RESULTS_DIR / "runs"            # default home of `orca-eval run/score --output`
BASELINES_DIR = RESULTS_DIR / "baselines"  # committed baselines of the CI gates
PUBLISHED_DIR = RESULTS_DIR / "published"  # committed runs that `report --all` shows
