"""The optimizer step of a training stage, plain (AdamW) or DeepSpeed, and its lr schedule.

`train_stage` (orca/train.py) calls only `make_stepper` and the stepper's `backward`,
`step`, `save` and `load`, so the loop is the same for both; they live here, apart from the
loop, so that orca/train.py reads top to bottom in one sitting.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from orca.checkpointing import StageCheckpoints
from orca.errors import UserError
from orca.train_config import StageConfig, TrainConfig
from orca.train_setup import load_model


# ----------------------------------------------------------------------------- the lr schedule

def lr_lambda(total_steps: int, warmup: int, min_ratio: float):
    """Linear warmup to 1, then cosine decay to min_ratio.

    Kept beside transformers.get_cosine_with_min_lr_schedule_with_warmup, which is the same
    from step `warmup` on (tests/test_train_schedule.py checks it at every step) but starts
    its warmup one step later: its first optimizer step runs at lr 0 (a step that moves no
    weight) and its warmup reaches the peak a step later. Ours gives step s < warmup the
    factor (s + 1) / warmup; switching would change every checkpoint trained so far."""
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return f


# ----------------------------------------------------------------------------- optimizer steps, plain or DeepSpeed

class PlainStepper:
    """AdamW (fused on CUDA; no weight decay on norms and biases) and the schedule as a
    LambdaLR: gradients of the micro-batches add up, then one clipped step."""
    autocast = True  # bf16 autocast over the fp32 weights when the config asks for bf16

    def __init__(self, model, stage: StageConfig, schedule, device: torch.device):
        self.model, self.forward_model, self.device, self.grad_clip = model, model, device, stage.grad_clip
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
        self.optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": stage.weight_decay},
                                            {"params": no_decay, "weight_decay": 0.0}],
                                           lr=stage.lr, betas=tuple(stage.betas), fused=device.type == "cuda")
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)

    def backward(self, loss_sum: torch.Tensor, n_targets: int) -> None:
        (loss_sum / n_targets).backward()

    def step(self) -> None:
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()

    def save(self, checkpoints: StageCheckpoints, name: str, tokenizer, position: dict) -> None:
        checkpoints.save(name, self.model, tokenizer, position, optimizer=self.optimizer, scheduler=self.scheduler)

    def load(self, checkpoints: StageCheckpoints, checkpoint: str | Path) -> dict:
        checkpoint = Path(checkpoint)
        return checkpoints.load(checkpoint, optimizer=self.optimizer, scheduler=self.scheduler)


class DeepSpeedStepper:
    """A DeepSpeed engine (ZeRO-2/3, bf16 mode): it holds the optimizer and our schedule,
    clips, and steps itself once it has seen `grad_accum` micro-batches."""
    autocast = False

    def __init__(self, deepspeed, model, ds_config: dict, schedule, grad_accum: int, hf_ds_config=None):
        self.model, self.grad_accum = model, grad_accum
        self.hf_ds_config = hf_ds_config  # ZeRO-3: transformers consults it (a global weakref); keep it alive
        self.zero_stage = ds_config.get("zero_optimization", {}).get("stage", 0)
        self.engine, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=model, model_parameters=model.parameters(), config=ds_config,
            lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, schedule))
        self.forward_model, self.device = self.engine, self.engine.device

    def backward(self, loss_sum: torch.Tensor, n_targets: int) -> None:
        # DeepSpeed divides by grad_accum itself; undo it so the step is a token mean.
        self.engine.backward(loss_sum * self.grad_accum / n_targets)
        self.engine.step()

    def step(self) -> None:
        pass  # the engine stepped on the step's last micro-batch

    def save(self, checkpoints: StageCheckpoints, name: str, tokenizer, position: dict) -> None:
        checkpoints.save(name, self.model, tokenizer, position, engine=self.engine, zero_stage=self.zero_stage)

    def load(self, checkpoints: StageCheckpoints, checkpoint: str | Path) -> dict:
        checkpoint = Path(checkpoint)
        return checkpoints.load(checkpoint, engine=self.engine)


def make_stepper(config: TrainConfig, stage: StageConfig, schedule, tokenizer, attn: str, device: torch.device,
                 init_dir: str | Path, resume_dir: str | Path | None, world: int,
                 deepspeed=None, load_hint: str = "") -> PlainStepper | DeepSpeedStepper:
    """The model and what steps it: a DeepSpeed engine when `deepspeed` (the module) is given,
    else AdamW on the model loaded from the resume point or, without one, the init checkpoint."""
    init_dir = Path(init_dir)
    resume_dir = None if resume_dir is None else Path(resume_dir)
    if deepspeed is None:
        model = load_model(config, resume_dir or init_dir, tokenizer, attn, device, load_hint)
        return PlainStepper(model, stage, schedule, device)
    ds_config = _deepspeed_config(config.deepspeed, stage, world, config.bf16)
    hf_ds_config = None
    if ds_config.get("zero_optimization", {}).get("stage", 0) == 3:
        from transformers.integrations import HfDeepSpeedConfig
        hf_ds_config = HfDeepSpeedConfig(ds_config)  # before loading: ZeRO-3 partitions at load
    model = load_model(config, init_dir, tokenizer, attn, device, load_hint)  # a resume point's weights: in the engine state
    return DeepSpeedStepper(deepspeed, model, ds_config, schedule, stage.grad_accum, hf_ds_config)


def _deepspeed_config(path: Path, stage: StageConfig, world: int, bf16: bool) -> dict:
    """The DeepSpeed JSON with "auto" fields filled from the stage."""
    try:
        ds = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    ds["train_micro_batch_size_per_gpu"] = stage.batch_size
    ds["gradient_accumulation_steps"] = stage.grad_accum
    ds["train_batch_size"] = stage.batch_size * stage.grad_accum * world
    ds["gradient_clipping"] = stage.grad_clip
    opt = ds.setdefault("optimizer", {"type": "AdamW", "params": {}})
    params = opt.setdefault("params", {})
    # torch's AdamW: no JIT-compiled DeepSpeed op needed, same math as the plain loop.
    params.update(lr=stage.lr, betas=stage.betas, weight_decay=stage.weight_decay, torch_adam=True)
    params.setdefault("eps", 1e-8)
    if "bf16" in ds and ds["bf16"].get("enabled") == "auto":
        ds["bf16"]["enabled"] = bf16
    for key, value in list(ds.get("zero_optimization", {}).items()):
        if value == "auto":
            del ds["zero_optimization"][key]
    ds.pop("scheduler", None)  # ours: warmup + cosine, stepped per optimizer step
    return ds
