"""BIG-Bench Hard: one JSON file per task, {"examples": [{input, target}, ...]}; the options,
where a task has them, are written into the input ("Options:\\n(A) ...")."""
from __future__ import annotations

import json
from pathlib import Path

from orca.errors import UserError
from harness import extract
from harness.suites.base import Suite


def orca_prompt(doc: dict) -> str:
    return doc["input"]


def official_prompt(doc: dict) -> str:
    return f"Q: {doc['input']}\nA:"


class BBH(Suite):
    name = "bbh"
    title = "BBH"
    order = 1
    target_field = "target"
    match_field = "input"
    prompts = {"orca": orca_prompt, "agieval": official_prompt}
    # BBH's targets are free text: a damaged one ("Maybe" in navigate) is refused at load
    check_targets = True

    def data_files(self, root: str | Path, name: str) -> list[Path]:
        # this project's layout and BIG-Bench-Hard's repository (bbh/), or the folder itself
        root = Path(root)
        return [root / "bbh" / f"{name}.json", root / f"{name}.json"]

    def rows(self, path: str | Path):
        """BBH task JSON: {"examples": [{"input", "target"}, ...]}."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from None
        if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
            raise UserError(f"{path}: missing field 'examples' (a list of {{input, target}})")
        return [(f"{path}: examples[{i}]", ex) for i, ex in enumerate(data["examples"])]

    def validate_doc(self, ex, where: str) -> dict:
        if not isinstance(ex, dict):
            raise UserError(f"{where}: expected an object")
        for key in ("input", "target"):
            if not isinstance(ex.get(key), str):
                raise UserError(f"{where}: missing or non-string field {key!r}")
        return {"input": ex["input"], "target": ex["target"]}

    def doc_options(self, doc: dict) -> dict[str, str] | None:
        """Letter -> option text, from the input's "Options:\\n(A) ...\\n(B) ..." block."""
        return extract.options_from_text(doc["input"])

    def document_text(self, doc: dict) -> str:
        return doc["input"]


SUITE = BBH()
