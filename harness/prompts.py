"""Zero-shot prompts (user turns) and system-message variants.

The user turn is the task's suite's business: each suite (harness/suites/) writes one per
prompt style (harness/suites/base.py PROMPT_STYLES: `orca`, the Orca paper's protocol, and
`agieval`, AGIEval's official zero-shot form). The system message is added by the model
backend: into the chat template for chat models, else the plain Orca template
(orca/template.py).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from orca.errors import UserError
from orca.system_messages import SYSTEM_MESSAGES
from harness.suites import Task, get_task


def user_prompt(task: Task | str, doc: dict, style: str = "orca") -> str:
    """The user turn for one example of `task` (a task or its key) in prompt style `style`."""
    return get_task(task).prompt(doc, style)


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
