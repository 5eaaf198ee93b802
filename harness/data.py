"""Benchmark data: the suites, their tasks, and loading AGIEval v1 JSONL / BBH JSON.

Data come from a directory (`--data-dir`, else $ORCA_DATA_DIR, else ../shared/data)
in this project's layout (`agieval/v1/*.jsonl`, `bbh/*.json`) or the upstream
repositories' layouts (AGIEval's `data/v1/`, BIG-Bench-Hard's `bbh/`), or from a
Hugging Face hub dataset with the same fields (`--data-dir hf:ORG/NAME`, one config
per task) for users with network.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from orca.errors import UserError
from orca.io import iter_jsonl_objects, sha256_file
from harness.taskdefs import check_families, load_suites, suite_module

# The suites and their task order are the lm-eval group files tasks/<suite>/_<suite>.yaml.
SUITES = {suite: [t.key for t in tasks] for suite, tasks in load_suites().items()}
SUITES["all"] = SUITES["agieval"] + SUITES["bbh"]
ALL_TASKS = SUITES["all"]


def _agieval_letters() -> str:
    return suite_module("agieval").OPTION_LETTERS


def resolve_tasks(spec: str) -> list[str]:
    """`agieval`, `bbh`, `all`, `agieval/lsat-ar`, a bare task name, or a comma list -> task keys."""
    check_families()  # a task YAML naming an unknown answer family fails here, before any work
    out: list[str] = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        if part in SUITES:
            out += SUITES[part]
        elif part in ALL_TASKS:
            out.append(part)
        else:
            bare = [t for t in ALL_TASKS if t.split("/", 1)[1] == part]
            if len(bare) == 1:
                out.append(bare[0])
                continue
            close = difflib.get_close_matches(part, list(SUITES) + ALL_TASKS, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see `orca-eval tasks`"
            raise UserError(f"unknown suite or task {part!r}{hint}")
    if not out:
        raise UserError("no suite or task given")
    return list(dict.fromkeys(out))


@dataclass
class TaskData:
    task: str          # "agieval/lsat-ar"
    docs: list[dict]
    source: str        # file path or hub id
    sha256: str


def _agieval_candidates(root: Path, name: str) -> list[Path]:
    return [root / "agieval" / "v1" / f"{name}.jsonl", root / "data" / "v1" / f"{name}.jsonl",
            root / "v1" / f"{name}.jsonl", root / f"{name}.jsonl"]


def _bbh_candidates(root: Path, name: str) -> list[Path]:
    return [root / "bbh" / f"{name}.json", root / f"{name}.json"]


def _find(candidates: list[Path], task: str, root: Path) -> Path:
    for c in candidates:
        if c.is_file():
            return c
    raise UserError(f"{task}: data file not found under {root} (looked for {candidates[0].relative_to(root)})")


def parse_agieval_jsonl(path: str | Path) -> list[dict]:
    """AGIEval v1 JSONL: one {passage, question, options, label} object per line."""
    path = Path(path)
    docs = [validate_agieval_doc(row, where) for where, row in iter_jsonl_objects(path, "AGIEval file")]
    if not docs:
        raise UserError(f"{path}: no examples")
    return docs


def validate_agieval_doc(row, where: str) -> dict:
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object")
    for key in ("question", "options", "label"):
        if key not in row:
            raise UserError(f"{where}: missing field {key!r}")
    options = row["options"]
    if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) for o in options):
        raise UserError(f"{where}: field 'options' must be a list of at least 2 strings")
    label = row["label"]
    if isinstance(label, list) and len(label) == 1:
        label = label[0]
    letters = _agieval_letters()[: len(options)]
    if not isinstance(label, str) or label not in letters:
        raise UserError(f"{where}: field 'label' must be one of {letters} (got {label!r})")
    passage = row.get("passage")
    if passage is not None and not isinstance(passage, str):
        raise UserError(f"{where}: field 'passage' must be a string or null")
    if not isinstance(row["question"], str):
        raise UserError(f"{where}: field 'question' must be a string")
    return {"passage": passage, "question": row["question"], "options": options, "label": label}


def parse_bbh_json(path: str | Path) -> list[dict]:
    """BBH task JSON: {"examples": [{"input", "target"}, ...]}."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise UserError(f"{path}: missing field 'examples' (a list of {{input, target}})")
    docs = []
    for i, ex in enumerate(data["examples"]):
        docs.append(validate_bbh_doc(ex, f"{path}: examples[{i}]"))
    if not docs:
        raise UserError(f"{path}: no examples")
    return docs


def validate_bbh_doc(ex, where: str) -> dict:
    if not isinstance(ex, dict):
        raise UserError(f"{where}: expected an object")
    for key in ("input", "target"):
        if not isinstance(ex.get(key), str):
            raise UserError(f"{where}: missing or non-string field {key!r}")
    return {"input": ex["input"], "target": ex["target"]}


def _load_from_hub(hub_id: str, task: str) -> TaskData:
    """Same fields from a Hugging Face dataset (needs network; not used in tests)."""
    import datasets

    suite, name = task.split("/", 1)
    try:
        ds = datasets.load_dataset(hub_id, name, split="test")
    except Exception as e:  # network, missing config: the user's setup, one line
        raise UserError(f"{task}: cannot load hub dataset {hub_id!r} config {name!r}: {e}".splitlines()[0]) from None
    validate = validate_agieval_doc if suite == "agieval" else validate_bbh_doc
    docs = [validate(dict(r), f"{hub_id}/{name}[{i}]") for i, r in enumerate(ds)]
    if suite == "bbh":
        check_targets(task, docs, f"{hub_id}/{name}")
    return TaskData(task, docs, f"hf:{hub_id}/{name}", getattr(ds, "_fingerprint", "") or "")


@lru_cache(maxsize=128)
def load_task_data(task: str, data_dir: str) -> TaskData:
    """Load one task's examples from `data_dir` (a folder, or `hf:ORG/NAME`)."""
    if task not in ALL_TASKS:
        raise UserError(f"unknown task {task!r}")
    if data_dir.startswith("hf:"):
        return _load_from_hub(data_dir[3:], task)
    root = Path(data_dir)
    suite, name = task.split("/", 1)
    if suite == "agieval":
        path = _find(_agieval_candidates(root, name), task, root)
        docs = parse_agieval_jsonl(path)
    else:
        path = _find(_bbh_candidates(root, name), task, root)
        docs = parse_bbh_json(path)
        check_targets(task, docs, str(path))
    return TaskData(task, docs, str(path), sha256_file(path))


def check_targets(task: str, docs: list[dict], where: str) -> None:
    """A BBH example whose target no answer can match (a "Maybe" in navigate) would be
    counted wrong whatever the model says: refused, naming the example."""
    from harness.scoring import unscorable_target

    for i, doc in enumerate(docs):
        why = unscorable_target(task, doc)
        if why:
            raise UserError(f"{where}: examples[{i}]: field 'target' {doc['target']!r} can never be scored right "
                            f"({why}); fix or remove that example")


def load_lm_eval_dataset(task: str, data_dir: str | None = None, **_):
    """lm-eval `custom_dataset` hook: one task as a DatasetDict with a `test` split.
    lm-eval passes the TaskManager metadata (our `data_dir`) and `dataset_kwargs`."""
    import datasets

    from orca.paths import data_dir as resolve_data_dir

    source = data_dir if str(data_dir or "").startswith("hf:") else str(resolve_data_dir(data_dir))
    rows = [{"doc_id": i, "task": task, **d} for i, d in enumerate(load_task_data(task, source).docs)]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
