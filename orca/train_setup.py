"""What a training stage starts from: its init checkpoint, tokenizer, device, attention
implementation and model (the setup half of orca/train.py's `train_stage`).

Apart from orca/train.py so that the loop there reads top to bottom in one sitting; the
optimizer and the lr schedule are in orca/train_optim.py. A checkpoint that cannot be
read becomes one line naming its folder (`Loading`), never a library's traceback.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from orca.checkpointing import StageCheckpoints
from orca.distributed import barrier
from orca.errors import UserError
from orca.paths import tokenizer_dir
from orca.tiny import load_tokenizer_with_pad, make_tiny_llama
from orca.tokenize import resize_embeddings_for_tokenizer
from orca.train_config import StageConfig, TrainConfig


# ----------------------------------------------------------------------------- init checkpoint and tokenizer

def resolve_init(config: TrainConfig, stage: StageConfig, rank: int = 0) -> Path:
    """Path of the checkpoint a stage starts from."""
    if stage.init.startswith("stage:"):
        path = StageCheckpoints(config.output_dir / stage.init[6:]).final()
        if path is None:
            raise UserError(f"stage {stage.name!r}: init {stage.init!r} has not finished training")
        return path
    if stage.init.startswith("tiny:"):
        seed = int(stage.init[5:])
        path = config.output_dir / f"init-tiny-{seed}"
        if rank == 0 and not (path / "config.json").exists():
            make_tiny_llama(path, seed=seed, tokenizer_path=config.tokenizer)
        barrier()
        return path
    path = Path(stage.init)
    if not (path / "config.json").is_file():
        raise UserError(f"stage {stage.name!r}: init {path} is not a Hugging Face checkpoint (no config.json)")
    return path


def damaged_checkpoint_errors() -> tuple:
    """What loading a damaged checkpoint raises, from the libraries that read it: a truncated
    or garbage safetensors file, a config.json that is not JSON, a trainer_state.pt cut short."""
    import pickle

    from safetensors import SafetensorError

    return (OSError, ValueError, RuntimeError, EOFError, KeyError, pickle.UnpicklingError, SafetensorError)


class Loading:
    """`with Loading(path, hint):` turns the libraries' exceptions about a damaged checkpoint
    into one line naming the folder, with what to do (`hint`)."""

    def __init__(self, path: Path, hint: str):
        self.path, self.hint = path, hint

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is not None and not isinstance(exc, UserError) and isinstance(exc, damaged_checkpoint_errors()):
            why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise UserError(f"{self.path}: damaged or not a checkpoint ({type(exc).__name__}: {why}); "
                            f"{self.hint}") from None
        return False


def init_hint(stage: StageConfig) -> str:
    if stage.init.startswith("stage:"):
        return f"it is the final checkpoint of stage {stage.init[6:]!r}: remove that stage's folder to train it again"
    if stage.init.startswith("tiny:"):
        return "remove that folder: it is made again"
    return f"stage {stage.name!r}: field 'init' must name a Hugging Face checkpoint folder"


def resume_hint(checkpoints: StageCheckpoints) -> str:
    return (f"remove that folder and set \"checkpoint\" in {checkpoints.dir / 'state.json'} to an earlier one "
            f"(or remove {checkpoints.dir} to train the stage anew)")


def load_tokenizer(config: TrainConfig, init_dir: str | Path):
    init_dir = Path(init_dir)
    if config.tokenizer:
        return load_tokenizer_with_pad(config.tokenizer)
    has_own = any((init_dir / f).exists() for f in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json"))
    return load_tokenizer_with_pad(init_dir if has_own else tokenizer_dir())


# ----------------------------------------------------------------------------- device, attention, model

def choose_device(config: TrainConfig) -> tuple[torch.device, str]:
    """The device this rank trains on and the attention implementation, refusing
    combinations that cannot train."""
    if config.device == "cuda" and not torch.cuda.is_available():
        raise UserError("device: cuda was asked for but no CUDA device is available")
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if (
        config.device in ("cuda", "auto") and torch.cuda.is_available()) else torch.device("cpu")
    attn = choose_attention(config.attn_implementation, device)
    if attn == "flash_attention_2" and not _has_flash_attn():
        raise UserError("attn_implementation: flash_attention_2 needs the flash-attn package and a GPU")
    if attn == "flex_attention" and device.type != "cuda":
        raise UserError(f"{config.source or 'config'}: field 'attn_implementation': flex_attention trains only on "
                        f"a CUDA GPU (torch {torch.__version__} has no FlexAttention backward on {device.type}); "
                        f"use auto or sdpa here")
    return device, attn


def load_model(config: TrainConfig, path: str | Path, tokenizer, attn: str, device: torch.device, load_hint: str = ""):
    """The model in fp32 master weights on `device`, in training mode; bf16 comes from
    DeepSpeed's bf16 mode or, without it, autocast. A checkpoint that cannot be read is one
    line naming it, with `load_hint` (what to do)."""
    path = Path(path)
    from transformers import AutoModelForCausalLM

    with Loading(path, load_hint or "give a Hugging Face checkpoint folder"):
        model = AutoModelForCausalLM.from_pretrained(path, attn_implementation=attn, dtype=torch.float32)
    resize_embeddings_for_tokenizer(model, tokenizer)
    if config.gradient_checkpointing:  # 13B at 2048 tokens: recompute activations instead of storing them
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.to(device)
    model.train()
    if config.compile:
        # Compile the decoder only: the LM head runs on a varying number of target
        # positions, which would make every micro-batch a new shape.
        getattr(model, "model", model).compile()
    return model


def choose_attention(asked: str, device: torch.device) -> str:
    """`auto`: flash-attn's varlen kernel where installed on a GPU, else FlexAttention on
    a GPU (a document BlockMask, no dense mask), else SDPA with the dense block mask
    (CPU: FlexAttention has no backward there)."""
    if asked != "auto":
        return asked
    if device.type == "cuda":
        return "flash_attention_2" if _has_flash_attn() else "flex_attention"
    return "sdpa"


def _has_flash_attn() -> bool:
    import importlib.util
    return torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None
