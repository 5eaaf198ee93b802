"""Re-running a finished evaluation without loading the model.

`orca-eval run` again on a finished run used to load the model (about 15 s: torch,
transformers, lm-eval and the weights) only to find every answer in the cache and rewrite
the same results. When the run directory already holds a finished run of exactly this
evaluation, `run` now prints it as it is, in about a second. "Exactly" is checked without
the model: the same settings (harness/run_dir.py's IDENTITY_FIELDS), the same checkpoint
files (their fingerprint, hashed from the files as the backend does), the same data files
(their hashes), the same package versions and the same evaluation code (`code`: a hash of
the project's harness/, orca/ and tasks/ files, which build the prompts and score the
answers). Anything else, or a model that is not a local checkpoint, takes the normal path,
which computes only what the cache lacks.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from harness.provenance import code_fingerprint

def _local_checkpoint(cfg) -> Path | None:
    """The checkpoint folder of `default` or `hf:PATH` if it already exists, else None (the
    default model is made on first use; other backends identify their model otherwise)."""
    if cfg.model == "default":
        from orca.paths import cache_dir

        from harness.models.default import DEFAULT_NAME
        path = cache_dir() / "models" / DEFAULT_NAME
    elif cfg.model.startswith("hf:") and not cfg.revision:
        path = Path(cfg.model[3:]).expanduser()
    else:
        return None
    return path if (path / "config.json").is_file() else None


def finished_run(cfg, tasks: list[str], variants: list, data: dict) -> Path | None:
    """The run directory when it holds a finished run of exactly this evaluation, else None.
    `cfg` is validated; `variants` the parsed system-message variants; `data` run.json's
    data record of the data just loaded."""
    from harness.models.lmeval_backend import fingerprint_checkpoint
    from harness.provenance import package_versions
    from harness.run_dir import IDENTITY_FIELDS, existing_run_meta, get, output_dir

    if not cfg.use_cache:
        return None
    path = _local_checkpoint(cfg)
    if path is None:
        return None
    fingerprint = fingerprint_checkpoint(path)
    from harness.run_config import default_run_name  # the name `run` gives it, from the same fingerprint

    run_name = cfg.name or default_run_name(cfg, SimpleNamespace(fingerprint=fingerprint))
    run_dir = output_dir(cfg.output, run_name)
    if not (run_dir / "summary.json").is_file():
        return None
    old = existing_run_meta(run_dir)
    if not old or not old.get("finished_at") or old.get("code") != code_fingerprint():
        return None
    new = {"model": {"fingerprint": fingerprint}, "tasks": tasks, "mode": cfg.mode, "prompt_style": cfg.prompt_style,
           "variants": {v.name: v.to_json() for v in variants}, "decoding": cfg.decoding.to_json(),
           "seed": cfg.seed, "repeats": cfg.repeats, "limit": cfg.limit}
    if any(get(old, f) != get(new, f) for f in IDENTITY_FIELDS if f != "model.dtype"):
        return None
    # the dtype and context length it resolved to depend on the machine: the same request,
    # and a run that recorded one (before --dtype, none was recorded)
    asked = {"device": cfg.device, "dtype": cfg.dtype or "auto", "max_length": cfg.max_length}
    if old.get("requested") != asked or not (old.get("model") or {}).get("dtype"):
        return None
    if (old.get("data") or {}).get("hashes") != data["hashes"] or old.get("packages") != package_versions():
        return None
    try:
        json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return run_dir
