"""Zero-shot prompts (user turns) and system-message variants.

Prompt styles (a registry, per suite):
- `orca` (default): the Orca paper's zero-shot protocol -- the question with its
  options as the user turn, no exemplars, no "let's think step by step"; the model
  answers freely and the answer is extracted from its text.
- `agieval`: AGIEval's official zero-shot form ("Q: ... Answer Choices: ...
  A: Among A through E, the answer is"), for numbers comparable with the AGIEval
  paper; for BBH the matching "Q: ...\\nA:" form.
The system message is added by the model backend: into the chat template for chat
models, else the plain Orca template (orca/template.py).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from orca.errors import UserError
from orca.system_messages import SYSTEM_MESSAGES


def agieval_orca(doc: dict) -> str:
    passage = (doc.get("passage") or "").strip()
    head = f"{passage}\n" if passage else ""
    return f"{head}Q: {doc['question']} Answer Choices: {' '.join(doc['options'])}"


def agieval_official(doc: dict) -> str:
    # AGIEval's dataset_loader.convert_zero_shot for English QA tasks, verbatim shape.
    passage = doc.get("passage") or ""
    count = len(doc["options"])
    from harness.taskdefs import suite_module  # the suite's option letters (tasks/agieval/utils.py)

    last = suite_module("agieval").OPTION_LETTERS[(5 if count == 1 else count) - 1]
    return (f"{passage}Q: {doc['question']} Answer Choices: {' '.join(doc['options'])}\n"
            f"A: Among A through {last}, the answer is")


def bbh_orca(doc: dict) -> str:
    return doc["input"]


def bbh_official(doc: dict) -> str:
    return f"Q: {doc['input']}\nA:"


PROMPT_STYLES = {
    "orca": {"agieval": agieval_orca, "bbh": bbh_orca},
    "agieval": {"agieval": agieval_official, "bbh": bbh_official},
}


def user_prompt(task: str, doc: dict, style: str = "orca") -> str:
    """The user turn for one example of `task` in prompt style `style`."""
    if style not in PROMPT_STYLES:
        raise UserError(f"unknown prompt style {style!r}; choose from {', '.join(PROMPT_STYLES)}")
    return PROMPT_STYLES[style][task.split("/", 1)[0]](doc)


@dataclass(frozen=True)
class SystemVariant:
    """One system-message variant of a run."""

    name: str                 # sm1..sm16, none, custom-<8hex>
    text: str | None          # None: no system turn at all
    message_id: int | None    # paper id, when from the registry

    def to_json(self) -> dict:
        return {"system_message": self.text, "system_message_id": self.message_id}


def _as_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_system_variant(spec: str) -> SystemVariant:
    """An id 1..16 (or sm3), `none`, literal text, or `@file`."""
    raw = spec
    spec = spec.strip()
    if spec.lower() == "none":
        return SystemVariant("none", None, None)
    ident = spec[2:] if spec.lower().startswith("sm") and _as_int(spec[2:]) is not None else spec
    mid = _as_int(ident)
    if mid is not None:  # anything that reads as an integer (-1, +3, 007) is meant as an id
        if mid not in SYSTEM_MESSAGES:
            raise UserError(f"unknown system message id {mid}: ids are 1..{len(SYSTEM_MESSAGES)} "
                            "(see `orca-eval system-messages`)")
        return SystemVariant(f"sm{mid}", SYSTEM_MESSAGES[mid], mid)
    if spec.startswith("@"):
        path = Path(spec[1:])
        try:
            text = path.read_text(encoding="utf-8").rstrip("\n")
        except OSError as e:
            raise UserError(f"--system-message {raw}: cannot read {path}: {e.strerror}") from None
    else:
        text = raw
    for mid, msg in SYSTEM_MESSAGES.items():
        if msg == text:
            return SystemVariant(f"sm{mid}", text, mid)
    return SystemVariant("custom-" + hashlib.sha256(text.encode()).hexdigest()[:8], text, None)
