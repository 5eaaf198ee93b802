"""What counts as the same example in two runs: the one rule `compare` and `report --flips` share.

Two sample rows of a task are the same example when they have the same `doc_id`, the same
`target`, and the same *user* prompt (`user_sha`, the hash of the question as the prompt
style writes it). The rendered prompt (`prompt_sha`) also holds the backend's template --
a tokenizer's chat template, the Orca template, or an API's message list -- so it differs
between an HF run and an API run of the very same examples; a difference there is
reported as a note, not as different examples.

Runs written before `user_sha` existed (the committed baselines among them) have only
`prompt_sha`; for them it is the best identity there is, so it is compared instead -- when
both sides had the same system message (`rendered_comparable`), since the system turn is
part of the rendered prompt; across different system messages only doc_id and target can
be compared.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from orca.errors import UserError


@dataclass
class Pairing:
    """doc_ids of one task paired between run A and run B."""

    common: list[int] = field(default_factory=list)           # same example in both
    only_a: list[int] = field(default_factory=list)
    only_b: list[int] = field(default_factory=list)
    changed: dict[int, str] = field(default_factory=dict)     # doc_id -> "target" | "prompt"
    template_differs: int = 0   # common examples whose rendered prompt differs (template only)
    legacy: int = 0             # pairs judged by prompt_sha, one side lacking user_sha

    def describe_changed(self) -> str:
        """E.g. "2 with a different target (different data), 1 with a different user prompt"."""
        reasons = list(self.changed.values())
        parts = []
        if reasons.count("target"):
            parts.append(f"{reasons.count('target')} with a different target (different data files)")
        if reasons.count("prompt"):
            parts.append(f"{reasons.count('prompt')} with a different user prompt (different data or "
                         "--prompt-style)")
        if reasons.count("rendered"):
            parts.append(f"{reasons.count('rendered')} with a different rendered prompt, and one run has no "
                         "user-prompt hashes (written by an older orca-eval) to tell a template change from a "
                         "data change")
        return ", ".join(parts)


def rows_by_doc(rows: list[dict], where: str | Path) -> dict[int, dict[int, dict]]:
    """One task's sample rows (of one run and variant) as doc_id -> repeat -> row.

    Refuses a doc_id or repeat that is not an integer and a (doc_id, repeat) pair that appears
    twice (e.g. a samples file concatenated twice); `where` names the samples file."""
    by_doc: dict[int, dict[int, dict]] = {}
    for r in rows:
        try:
            doc, rep = int(r["doc_id"]), int(r.get("repeat", 0) or 0)
        except (TypeError, ValueError):
            raise UserError(f"{where}: doc_id/repeat must be integers (got {r.get('doc_id')!r}, "
                            f"{r.get('repeat')!r})") from None
        if rep in by_doc.setdefault(doc, {}):
            raise UserError(f"{where}: doc_id {doc} repeat {rep} appears twice (corrupted samples file)")
        by_doc[doc][rep] = r
    return by_doc


def first_repeats(by_doc: dict[int, dict[int, dict]]) -> dict[int, dict]:
    """doc_id -> the example's first repeat: the row pairing looks at (and `correct` in summary.json)."""
    return {doc: reps[min(reps)] for doc, reps in by_doc.items()}


def same_example(a: dict, b: dict, rendered_comparable: bool = True) -> str | None:
    """None when rows `a` and `b` (same doc_id) are the same example, else why not."""
    if str(a.get("target")) != str(b.get("target")):
        return "target"
    ua, ub = a.get("user_sha"), b.get("user_sha")
    if ua is not None and ub is not None:
        return None if ua == ub else "prompt"
    pa, pb = a.get("prompt_sha"), b.get("prompt_sha")
    if rendered_comparable and pa is not None and pb is not None and pa != pb:
        return "rendered"
    return None


def pair_examples(a: dict[int, dict], b: dict[int, dict], rendered_comparable: bool = True) -> Pairing:
    """Pair two {doc_id: sample row} maps of one task (each row the example's first repeat);
    `rendered_comparable`: both were prompted with the same system message."""
    out = Pairing(only_a=sorted(a.keys() - b.keys()), only_b=sorted(b.keys() - a.keys()))
    for doc in sorted(a.keys() & b.keys()):
        why = same_example(a[doc], b[doc], rendered_comparable)
        if why is not None:
            out.changed[doc] = why
            continue
        out.common.append(doc)
        if a[doc].get("user_sha") is None or b[doc].get("user_sha") is None:
            out.legacy += 1
        elif rendered_comparable and a[doc].get("prompt_sha") != b[doc].get("prompt_sha"):
            out.template_differs += 1
    return out


def template_note(task_counts: dict[str, int]) -> str | None:
    """The note for examples paired although their rendered prompts differ."""
    total = sum(task_counts.values())
    if not total:
        return None
    return (f"{total} paired example(s) in {len(task_counts)} task(s) have the same user prompt but a different "
            "rendered prompt: the runs used different prompt templates (e.g. a chat template vs the Orca "
            "template, or an API's messages); compared as the same examples")
