"""What a result directory records about how it was made: its run.json.

`orca-eval run` and `orca-eval score` both build run.json with `run_metadata`, so they
record the same provenance in the same order: the model, tasks, prompt style, system
messages, decoding and seed; the data (where from, its hashes, its damaged targets); the
package versions, the git commit and timestamps. The field list is documented in
harness/results.py.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata

from harness.prompts import SystemVariant
from harness.data import damaged_targets
from orca.paths import PROJECT_ROOT

PACKAGES = ("orca-eval", "lm-eval", "torch", "transformers", "datasets", "openai", "deepspeed", "vllm")
# The code run.json's `code` hashes (harness/finished.py reuses a finished run only under the same code).
CODE_DIRS = ("harness", "orca", "tasks")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the code that turns examples into prompts and answers into scores."""
    h = hashlib.sha256()
    for d in CODE_DIRS:
        for f in sorted((PROJECT_ROOT / d).rglob("*")):
            if f.is_file() and f.suffix in (".py", ".yaml", ".yml", ".json") and "__pycache__" not in f.parts:
                h.update(f.relative_to(PROJECT_ROOT).as_posix().encode() + b"\0")
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


def package_versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (head + ("+dirty" if dirty else "")) or None


def command_line() -> str | None:
    """The command as typed, when it came through the `orca-eval` console script."""
    from orca.redact import redact_text

    # A key typed into --base-url (user-info or ?api_key=) must not reach run.json.
    return redact_text(" ".join(sys.argv)) if sys.argv and "orca-eval" in sys.argv[0] else None


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def data_record(root: str, task_data: dict, sources: bool = True) -> dict:
    """run.json's `data`: the data directory (or hub id), each task's file and sha256, and
    the gold targets the official extractor cannot score. `task_data`: task -> TaskData.
    `score` records no per-task sources (its run.json never has)."""
    out = {"dir": root}
    if sources:
        out["sources"] = {t: d.source for t, d in task_data.items()}
    out["hashes"] = {t: d.sha256 for t, d in task_data.items()}
    out["damaged_targets"] = damaged_targets({t: d.docs for t, d in task_data.items()})
    return out


def run_metadata(*, name: str, model: dict, suite: str, tasks: list[str], mode: str, prompt_style: str,
                 variants: list[SystemVariant], decoding: dict | None, seed: int | None, repeats: int,
                 limit: int | None, data: dict, started_at: str, finished_at: str | None,
                 execution: dict | None = None, record_command: bool = False) -> dict:
    """run.json, in its fixed key order. `execution` (`run` only): how the requests were
    run -- batch size, stop sequences, sampling seeds, world size -- placed after `limit`;
    `record_command` (`run` only) adds the command line after the git commit."""
    meta = {
        "name": name,
        "model": model,
        "suite": suite,
        "tasks": tasks,
        "mode": mode,
        "prompt_style": prompt_style,
        "variants": {v.name: v.to_json() for v in variants},
        "decoding": decoding,
        "seed": seed,
        "repeats": repeats,
        "limit": limit,
        **(execution or {}),
        "data": data,
        "packages": package_versions(),
        "git_commit": git_commit(),
        "code": code_fingerprint(),  # harness/finished.py reuses a finished run only under the same code
    }
    if record_command:
        meta["command"] = command_line()
    meta["started_at"] = started_at
    meta["finished_at"] = finished_at
    return meta
