"""AGIEval (v1, the English multiple-choice tasks): JSONL files of {passage, question,
options, label}; the target is the option letter."""
from __future__ import annotations

from pathlib import Path

from orca.errors import UserError
from orca.io import iter_jsonl_objects
from harness import extract
from harness.suites.base import Suite

OPTION_LETTERS = "ABCDEFG"  # label i of an example's `options` list


def orca_prompt(doc: dict) -> str:
    passage = (doc.get("passage") or "").strip()
    head = f"{passage}\n" if passage else ""
    return f"{head}Q: {doc['question']} Answer Choices: {' '.join(doc['options'])}"


def official_prompt(doc: dict) -> str:
    # AGIEval's dataset_loader.convert_zero_shot for English QA tasks, verbatim shape.
    passage = doc.get("passage") or ""
    count = len(doc["options"])
    last = OPTION_LETTERS[(5 if count == 1 else count) - 1]
    return (f"{passage}Q: {doc['question']} Answer Choices: {' '.join(doc['options'])}\n"
            f"A: Among A through {last}, the answer is")


class AGIEval(Suite):
    name = "agieval"
    title = "AGIEval"
    order = 0
    target_field = "label"
    match_field = "question"
    prompts = {"orca": orca_prompt, "agieval": official_prompt}

    def data_files(self, root: str | Path, name: str) -> list[Path]:
        # this project's layout, AGIEval's repository (data/v1/), the v1 folder, the folder itself
        root = Path(root)
        return [root / "agieval" / "v1" / f"{name}.jsonl", root / "data" / "v1" / f"{name}.jsonl",
                root / "v1" / f"{name}.jsonl", root / f"{name}.jsonl"]

    def rows(self, path: str | Path):
        """AGIEval v1 JSONL: one {passage, question, options, label} object per line."""
        return iter_jsonl_objects(path, "AGIEval file")

    def validate_doc(self, row, where: str) -> dict:
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
        letters = OPTION_LETTERS[: len(options)]
        if not isinstance(label, str) or label not in letters:
            raise UserError(f"{where}: field 'label' must be one of {letters} (got {label!r})")
        passage = row.get("passage")
        if passage is not None and not isinstance(passage, str):
            raise UserError(f"{where}: field 'passage' must be a string or null")
        if not isinstance(row["question"], str):
            raise UserError(f"{where}: field 'question' must be a string")
        return {"passage": passage, "question": row["question"], "options": options, "label": label}

    def doc_options(self, doc: dict) -> dict[str, str] | None:
        """Letter -> option text, from the example's ["(A)text", "(B)text", ...]."""
        return extract.options_from_agieval(doc["options"])

    def loglikelihood_choices(self, task, doc: dict) -> tuple[list[str], list[str]]:
        """Each option's letter and its text as written in the data, for every task."""
        return list(OPTION_LETTERS[: len(doc["options"])]), list(doc["options"])

    def document_text(self, doc: dict) -> str:
        return "\n".join([doc.get("passage") or "", doc["question"], *doc["options"]])


SUITE = AGIEval()
