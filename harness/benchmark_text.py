"""The benchmark documents as text, for decontamination (orca/decontaminate.py).

A document is what could leak into training data, as each suite writes it
(`Suite.document_text`, harness/suites/): the passage, question and options of an AGIEval
item, the input of a BBH item (its question with the options written in). Answers are left
out: a line that holds only "(B)" or "True" proves nothing. Documents come from
harness.data's public loader, so they are exactly the examples evaluated, and doc_id is
the example's position there, as in the harness's outputs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orca.decontaminate import BenchmarkDocument

# What training data is checked against unless a command or config says otherwise.
DEFAULT_AGAINST = "agieval,bbh"


def benchmark_documents(spec: str = DEFAULT_AGAINST, data_dir: str | None = None) -> tuple[list[BenchmarkDocument],
                                                                                          dict]:
    """Documents of every task named by `spec` (suites, tasks or a comma list; an unknown
    name is a UserError) and a provenance record: per task its source file and SHA-256."""
    # imported here, not above: the CLI reads DEFAULT_AGAINST at start-up
    from harness.data import load_task_data, resolve_tasks
    from orca.decontaminate import BenchmarkDocument
    from orca.paths import data_dir as resolve_data_dir

    source = data_dir if str(data_dir or "").startswith("hf:") else str(resolve_data_dir(data_dir))
    docs, tasks = [], {}
    for task in resolve_tasks(spec):
        data = load_task_data(task, source)
        docs += [BenchmarkDocument(task.key, i, task.document_text(d)) for i, d in enumerate(data.docs)]
        tasks[task.key] = {"docs": len(data.docs), "source": data.source, "sha256": data.sha256}
    return docs, {"against": spec, "data_dir": source, "tasks": tasks}
