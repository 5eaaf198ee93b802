"""The `--output` folder of `orca-eval run` and `orca-eval score`: which folder, and what
it may already hold.

A new or empty folder is used. A folder holding the same run is taken up again: `run`
resumes it (its outputs come from the cache), `score` rewrites its scoring of the same
predictions file. Anything else -- a file, a folder of other files, a corrupt run.json, a
run of another model or other settings -- is refused, so two runs are never mixed.
"""
from __future__ import annotations

import json
from pathlib import Path

from harness.paths import BASELINES_DIR, PUBLISHED_DIR, RUNS_DIR
from orca.errors import UserError

# The lock a running `run` holds in its folder (orca.io.OneWriter); not part of the run.
LOCK_NAME = ".lock"

# The fields that make two runs "the same run": a directory holding a run that
# differs in any of them is refused instead of being mixed with this one.
IDENTITY_FIELDS = ("model.fingerprint", "model.dtype", "tasks", "mode", "prompt_style", "variants", "decoding",
                   "seed", "repeats", "limit")


def output_dir(output: str | Path | None, default_name: str) -> Path:
    """`--output` if given (see check_output), else `results/runs/<default_name>`. A name must stay inside
    results/runs (`--name ../../x` wrote outside it); an `--output` that is a dangling
    symlink or a symlink loop is said to be one (mkdir's own word was "File exists")."""
    if output:
        path = Path(output)
        _check_link(path)
        check_output(output)
        return path
    if default_name in ("", ".", "..") or any(c in default_name for c in "/\\\0"):
        raise UserError(f"--name {default_name!r}: must be a plain folder name under {RUNS_DIR} "
                        "(no '/', '..'); give --output for a folder elsewhere")
    return RUNS_DIR / default_name


def _check_link(path: Path) -> None:
    import errno
    import os

    if not path.is_symlink():
        return
    try:
        path.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UserError(f"--output {path}: is a symlink loop; point it at a folder, or give another --output") \
                from None
        raise UserError(f"--output {path}: is a symlink to {os.readlink(path)}, which does not exist; create that "
                        "folder, or give another --output") from None


def check_output(output: str | Path | None) -> None:
    """Refuse an `--output` under results/published/ or results/baselines/: re-running a
    committed run's command into its own folder rewrote run.json (and, killed, left
    `finished_at: null` beside the old summary); a reproduction goes to a new folder and is
    compared with the committed one. `run` calls this before loading the model."""
    if not output:
        return
    path = Path(output).resolve()
    for committed in (PUBLISHED_DIR, BASELINES_DIR):
        if path.is_relative_to(committed.resolve()):
            raise UserError(f"--output {output}: inside {committed.relative_to(committed.parent.parent)}/, "
                            "where committed runs are kept; write to a new folder and compare: "
                            f"orca-eval compare {output} NEW_FOLDER")


def existing_run_meta(run_dir: str | Path) -> dict | None:
    """What an `--output` folder already holds, for `run` and `score` alike: None for a new or
    empty folder, else its run.json; a file, a non-empty folder without a run, or a corrupt
    run.json is refused (the commands then compare the identity of the old run with theirs)."""
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--output {run_dir}: is a file, not a directory")
    if not meta_path.exists():
        if run_dir.exists() and any(p.name not in (".gitkeep", LOCK_NAME) for p in run_dir.iterdir()):
            raise UserError(f"--output {run_dir}: not empty and holds no orca-eval run (run.json)")
        return None
    try:
        old = json.loads(meta_path.read_bytes())
    except ValueError:  # bad JSON or bad UTF-8
        old = None
    if not isinstance(old, dict):
        raise UserError(f"{meta_path}: corrupt run.json; choose another --output")
    return old


def get(d: dict, dotted: str):
    """The value at a dotted path ("model.spec" -> d["model"]["spec"]); None where a level is missing."""
    for part in dotted.split("."):
        d = (d or {}).get(part)
    return d


def check_same_run(run_dir: str | Path, meta: dict) -> None:
    """`run`: the folder is new, empty, or holds this same run (IDENTITY_FIELDS), to resume."""
    run_dir = Path(run_dir)
    old = existing_run_meta(run_dir)
    if old is None:
        return
    for f in IDENTITY_FIELDS:
        if get(old, f) != get(meta, f):
            what = {"model.fingerprint": "a different model",
                    "model.dtype": f"another dtype ({get(old, f) or 'float32, before --dtype'})"}.get(
                f, f"a different {f.split('.')[0]}")
            raise UserError(f"--output {run_dir}: holds a run of {what} ({get(old, 'model.spec')}); "
                            "choose another --output")


def check_same_predictions(run_dir: str | Path, spec: str, source: str | Path | None = None, variant: str | None = None) -> None:
    """`score`: the folder is new, empty, or holds a scoring of the same predictions file
    (the same file, not just the same file name: two models' `preds.jsonl` are two runs)
    under the same system message (a re-score as sm2 would leave sm1's results beside it)."""
    run_dir = Path(run_dir)
    source = None if source is None else Path(source)
    old = existing_run_meta(run_dir)
    if old is None:
        return
    model = old.get("model")
    if not isinstance(model, dict) or model.get("spec") != spec:
        raise UserError(f"--output {run_dir}: holds a run of a different model; choose another --output")
    if source is not None and isinstance(model.get("path"), str) and \
            Path(model["path"]).resolve() != Path(source).resolve():
        raise UserError(f"--output {run_dir}: holds the scoring of another predictions file with the same name "
                        f"({model['path']}); choose another --output")
    old_variants = list(old.get("variants") or {})
    if variant is not None and old_variants and old_variants != [variant]:
        raise UserError(f"--output {run_dir}: holds a scoring under system message {', '.join(old_variants)}, "
                        f"not {variant}; choose another --output")
