"""The checkpoints of one training stage, so that `kill -9` at any moment loses at most
the steps since the newest one and a rerun continues from there.

A stage directory holds:

- `epoch-K/` after every epoch, and `step-N/` every `save_every_steps` (only the newest
  step one is kept; they are for resuming): Hugging Face weights + tokenizer
  (`orca-eval run --model hf:DIR` loads them) and `trainer_state.pt` (optimizer,
  scheduler, RNG, data position), or under DeepSpeed its own per-rank state in `deepspeed/`;
- `state.json`: the newest complete checkpoint and its position, and, once the stage is
  finished, `done` and `final`;
- `config_identity.json`: the config the stage's training started with, so a changed config
  is refused instead of mixed with the old one's checkpoints.

A checkpoint is written as `.tmp-NAME/` and renamed, then state.json is pointed at it
(atomically), so state.json never names a partial directory.
"""
from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import torch

from orca.distributed import barrier, rank_world
from orca.errors import UserError
from orca.io import write_json_atomic
from orca.train_config import identity_changes, identity_sha256

STATE_FILE = "state.json"
TRAINER_STATE = "trainer_state.pt"
IDENTITY_FILE = "config_identity.json"  # what the stage's result depends on (orca.train_config.stage_identity)


class StageCheckpoints:
    """Save, find and load the checkpoints of the stage in `stage_dir`."""

    def __init__(self, stage_dir: Path):
        self.dir = stage_dir

    def state(self) -> dict:
        path = self.dir / STATE_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    def final(self) -> Path | None:
        """The final checkpoint of a finished stage, else None."""
        state = self.state()
        return self.dir / state["final"] if state.get("done") else None

    def latest(self) -> Path | None:
        """The newest complete checkpoint (where to resume), else None."""
        state = self.state()
        return self.dir / state["checkpoint"] if state.get("checkpoint") else None

    def check_identity(self, stage_name: str, identity: dict) -> None:
        """Refuse to resume or reuse a stage trained under a different config: its checkpoints
        and result belong to the old settings. IDENTITY_FILE records the config a stage's
        training started with (none: trained before this check; taken as it is)."""
        path = self.dir / IDENTITY_FILE
        state = self.state()
        if not path.exists() or not (state.get("checkpoint") or state.get("done")):
            return  # nothing trained yet that a new config could be mixed with
        try:
            recorded = json.loads(path.read_bytes())
            old_sha, old = recorded["sha256"], recorded["identity"]
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{path}: corrupt record of the stage's config; restore it, or choose another "
                            "output_dir to train anew") from None
        if old_sha != identity_sha256(identity):
            changed = identity_changes(old if isinstance(old, dict) else {}, identity) or ["unknown"]
            raise UserError(f"stage {stage_name!r}: {self.dir} holds training of a different config (changed: "
                            f"{', '.join(changed)}); restore those settings, or choose another output_dir to train "
                            "anew")

    def begin(self, identity: dict) -> None:
        """(Rank 0.) Create the directory, drop checkpoints a kill left half-written, and
        record the config the training runs under."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        write_json_atomic(self.dir / IDENTITY_FILE, {"sha256": identity_sha256(identity), "identity": identity})

    def save(self, name: str, model, tokenizer, position: dict, *, engine=None, optimizer=None, scheduler=None,
             zero_stage: int = 0) -> None:
        """Write checkpoint `name` atomically and point state.json at it. Every rank calls
        this; under DeepSpeed `engine` holds the optimizer and scheduler, else `optimizer`
        and `scheduler` do."""
        rank, _ = rank_world()
        final = self.dir / name
        tmp = self.dir / f".tmp-{name}"
        if rank == 0 and tmp.exists():
            shutil.rmtree(tmp)
        barrier()
        if engine is not None:
            # Collective calls: every rank takes part.
            engine.save_checkpoint(str(tmp / "deepspeed"), tag="state", client_state=position)
            state_dict = engine._zero3_consolidated_16bit_state_dict() if zero_stage == 3 else None
            module = engine.module
        else:
            state_dict, module = None, model
        if rank == 0:
            try:
                if state_dict is not None:
                    module.save_pretrained(tmp, state_dict=state_dict)
                else:
                    module.save_pretrained(tmp)
                tokenizer.save_pretrained(tmp)
                trainer_state = {"position": position, "rng": _rng_state()}
                if engine is None:
                    trainer_state.update(optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict())
                torch.save(trainer_state, tmp / TRAINER_STATE)
            except (OSError, RuntimeError, _safetensor_error()) as e:
                # A full disk mid-save (safetensors and torch.save word it their own way): the
                # half-written .tmp- folder goes, state.json still names the previous checkpoint.
                shutil.rmtree(tmp, ignore_errors=True)
                why = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
                raise UserError(f"{final}: cannot write the checkpoint ({why}); the previous one is intact -- "
                                "free space and run the same command again to resume") from None
            if final.exists():  # left by a kill between rename and state update
                shutil.rmtree(final)
            os.replace(tmp, final)
            state = self.state()
            previous = state.get("checkpoint")
            write_json_atomic(self.dir / STATE_FILE, {**state, "checkpoint": name, "position": position})
            # Mid-epoch checkpoints are only for resuming: keep the newest one.
            if previous and previous.startswith("step-") and previous != name:
                shutil.rmtree(self.dir / previous, ignore_errors=True)
        barrier()

    def load(self, checkpoint: str | Path, *, engine=None, optimizer=None, scheduler=None) -> dict:
        """Restore the optimizer and scheduler (or the DeepSpeed engine's state) and the RNG
        of `checkpoint`; returns its data position. The plain loop loads the weights itself
        (from_pretrained of the checkpoint); DeepSpeed's state holds them."""
        checkpoint = Path(checkpoint)
        saved = torch.load(checkpoint / TRAINER_STATE, weights_only=False)
        if engine is not None:
            engine.load_checkpoint(str(checkpoint / "deepspeed"), tag="state")
        else:
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
        _set_rng_state(saved["rng"])
        return saved["position"]

    def finish(self, final: str) -> Path:
        """(Rank 0.) Mark the stage done with checkpoint `final` as its result."""
        write_json_atomic(self.dir / STATE_FILE, {**self.state(), "done": True, "final": final})
        for leftover in self.dir.glob("step-*"):  # resume points are useless once the stage is done
            shutil.rmtree(leftover, ignore_errors=True)
        return self.dir / final


def _safetensor_error():
    from safetensors import SafetensorError

    return SafetensorError


def _rng_state() -> dict:
    import numpy as np
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_rng_state(state: dict) -> None:
    import numpy as np
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def safetensors_problem(path: str | Path) -> str | None:
    """Why a .safetensors file is not whole (None when it is): its 8-byte header length,
    JSON header and the tensors' byte ranges must add up to the file's size exactly. Reads
    only the header, so it is cheap enough to run before every use of a cached checkpoint."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                return "shorter than its header"
            n = int.from_bytes(head, "little")
            if n > size - 8:
                return "header runs past the end of the file"
            header = json.loads(f.read(n))
        ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"]
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        return f"unreadable header ({type(e).__name__})"
    expected = 8 + n + max(ends, default=0)
    return None if size == expected else f"{size} bytes, its header describes {expected}"
