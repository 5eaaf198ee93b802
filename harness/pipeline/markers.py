"""Step markers: each finished step writes `steps/<step>.json` (its outputs and a hash of the
config it ran with, chained to the steps it builds on); `run_step` skips a step whose marker
matches, redoes a cheap one, and refuses to redo one whose config changed."""
from __future__ import annotations

import json
from pathlib import Path

from orca.errors import UserError
from orca.io import write_json_atomic
from orca.train_config import identity_changes, identity_sha256

from harness.pipeline.config import PipelineConfig


def marker_path(cfg: PipelineConfig, step: str) -> Path:
    return cfg.run_dir / "steps" / f"{step}.json"


# Steps that are cheap, deterministic and write nothing but their own outputs: redone on a config change.
REDO_ON_CHANGE = ("compare",)
# Settings of how fast (or how persistently) a step runs, not of what it produces: changing them
# is not a config change (raising max_retries or the timeout is how one fixes failed queries).
PACING = ("rpm", "tpm", "concurrency", "batch_size", "max_retries", "timeout", "max_failed_fraction")


def run_step(cfg: PipelineConfig, step: str, fn, log, identity: dict, still_done=None) -> dict:
    """Run `fn` unless its done-marker exists for the same `identity`; the marker holds its
    outputs plus `config_sha256`/`config`, so a changed config is never reported as done.
    `still_done(saved)` may return a reason why a marker does not count (it is then redone)."""
    marker = marker_path(cfg, step)
    digest = identity_sha256(identity)
    if marker.exists():
        saved = read_marker(marker)
        recorded = saved.pop("config_sha256", None)
        old_identity = saved.pop("config", None)
        why_not = still_done(saved) if still_done is not None and recorded in (None, digest) else None
        if why_not:
            log(f"[bold]{step}[/] ({why_not}; doing it again)")
            out = fn()
            write_json_atomic(marker, {**out, "config_sha256": digest, "config": identity})
            return out
        if recorded in (None, digest):  # None: a marker from before hashes were kept
            log(f"[dim]{step}: done earlier[/]")
            return saved
        changed = ", ".join(identity_changes(old_identity or {}, identity)) or "unknown"
        if step not in REDO_ON_CHANGE:
            raise UserError(f"{cfg.source}: step {step} was done with a different config (changed: {changed}); "
                            f"restore those settings, or choose another run_dir to run it anew")
        log(f"[bold]{step}[/] (config changed: {changed}; redoing)")
    else:
        log(f"[bold]{step}[/]")
    out = fn()
    write_json_atomic(marker, {**out, "config_sha256": digest, "config": identity})
    return out


def read_marker(marker: str | Path) -> dict:
    marker = Path(marker)
    try:
        saved = json.loads(marker.read_bytes())
    except ValueError:
        saved = None
    if not isinstance(saved, dict):
        raise UserError(f"{marker}: corrupt step record; remove it to run that step again")
    return saved
