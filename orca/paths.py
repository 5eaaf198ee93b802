"""Where the project finds data, the tokenizer and its caches (the evaluation side's task
and results folders are in harness/paths.py)."""
from __future__ import annotations

import os
from pathlib import Path

from orca.errors import UserError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The benchmark data directory: `--data-dir`, else $ORCA_DATA_DIR, else
    `../shared/data` beside the project root (this workplace's layout)."""
    if explicit:
        path = Path(explicit)
        source = "--data-dir"
    elif os.environ.get("ORCA_DATA_DIR"):
        path = Path(os.environ["ORCA_DATA_DIR"])
        source = "ORCA_DATA_DIR"
    else:
        path = PROJECT_ROOT.parent / "shared" / "data"
        source = "default"
        if not path.is_dir():
            raise UserError(
                "no data directory: pass --data-dir DIR or set ORCA_DATA_DIR "
                "(a folder holding agieval/v1/*.jsonl and bbh/*.json)"
            )
    if not path.is_dir():
        raise UserError(f"data directory {path} ({source}) does not exist")
    return path.resolve()


def tokenizer_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Folder holding the LLaMA-style `tokenizer.model` used for tiny checkpoints."""
    path = Path(explicit) if explicit else data_dir() / "tokenizer"
    if not (path / "tokenizer.model").exists():
        raise UserError(f"{path}: no tokenizer.model found")
    return path


def cache_dir() -> Path:
    """$ORCA_CACHE_DIR, else ~/.cache/orca-eval."""
    path = Path(os.environ.get("ORCA_CACHE_DIR") or Path.home() / ".cache" / "orca-eval")
    path.mkdir(parents=True, exist_ok=True)
    return path
