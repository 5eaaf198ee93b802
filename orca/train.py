"""Explanation tuning, one stage after another (Orca §3.2), readable top to bottom.

For each stage of a config (orca/train_config.py), `train_stage`:

1. resolves the init checkpoint (a path, `tiny:SEED`, or `stage:NAME` = that stage's
   last epoch), loads its tokenizer with [[PAD]] and grows the embeddings to match;
2. gets the packed rows of every epoch from its `data` part (default `prepare_data`: the
   teacher data tokenized with teacher-only labels by orca/tokenize.py, packed by
   orca/packing.py, seeded per epoch, so a resumed run sees exactly the rows it would have);
3. steps AdamW (fused on CUDA) with linear warmup then cosine decay to `min_lr_ratio * lr`;
   the loss (its `loss_fn` part, default `token_loss_sum`) is the mean over all target
   tokens of an optimizer step (summed over its micro-batches, so gradient accumulation
   equals a bigger batch). Nothing in a step waits for the GPU: target positions come
   from the host, the loss is summed on the device and read back only when a metrics
   line is written;
4. saves a checkpoint after every epoch (and every `save_every_steps`) through its
   `checkpoints` part (orca/checkpointing.py: atomic checkpoint directories and
   state.json, so `kill -9` at any moment loses at most the steps since the newest one).

DeepSpeed (ZeRO-2/3, bf16) is used only when the config names a DeepSpeed JSON,
and only then imported; launch with `torchrun --nproc_per_node N -m orca.train CONFIG`
or `deepspeed --num_gpus N --module orca.train CONFIG` (see docs/training.md).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import torch

from orca.checkpointing import StageCheckpoints
from orca.distributed import barrier, init_for_deepspeed, rank_world
from orca.errors import UserError, run_entry_point
from orca.io import OneWriter, append_jsonl, read_jsonl, write_json_atomic, write_jsonl_atomic
from orca.packing import MODEL_INPUTS, collate, model_inputs, pack_examples
from orca.paths import tokenizer_dir
from orca.tiny import load_tokenizer_with_pad, make_tiny_llama
from orca.tokenize import load_examples, resize_embeddings_for_tokenizer, tokenize_examples
from orca.train_config import StageConfig, TrainConfig, load_train_config, stage_identity


# ----------------------------------------------------------------------------- setup

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


class _Loading:
    """`with _Loading(path, hint):` turns the libraries' exceptions about a damaged checkpoint
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


def _init_hint(stage: StageConfig) -> str:
    if stage.init.startswith("stage:"):
        return f"it is the final checkpoint of stage {stage.init[6:]!r}: remove that stage's folder to train it again"
    if stage.init.startswith("tiny:"):
        return "remove that folder: it is made again"
    return f"stage {stage.name!r}: field 'init' must name a Hugging Face checkpoint folder"


def _resume_hint(checkpoints: StageCheckpoints) -> str:
    return (f"remove that folder and set \"checkpoint\" in {checkpoints.dir / 'state.json'} to an earlier one "
            f"(or remove {checkpoints.dir} to train the stage anew)")


def load_tokenizer(config: TrainConfig, init_dir: str | Path):
    init_dir = Path(init_dir)
    if config.tokenizer:
        return load_tokenizer_with_pad(config.tokenizer)
    has_own = any((init_dir / f).exists() for f in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json"))
    return load_tokenizer_with_pad(init_dir if has_own else tokenizer_dir())


def prepare_data(stage: StageConfig, tokenizer, seed: int) -> tuple[list[list[list[dict]]], dict]:
    """Tokenized, packed rows for every epoch, and data statistics."""
    examples, files = [], []
    for path in stage.data:
        ex, stats = load_examples(path, stage.queries)
        examples += ex
        files.append(stats)
    if stage.max_examples:
        examples = examples[: stage.max_examples]
    if not examples:
        raise UserError(f"stage {stage.name!r}: no usable training examples in {', '.join(map(str, stage.data))}")
    tokenized, tok_stats = tokenize_examples(tokenizer, examples, stage.max_len, stage.loss_on)
    epochs, pack_stats = [], []
    for epoch in range(stage.epochs):
        rows, stats = pack_examples(tokenized, stage.max_len, seed=seed * 1000 + epoch)
        epochs.append(rows)
        pack_stats.append(stats)
    return epochs, {"files": files, "tokenize": tok_stats, "packing": pack_stats[0],
                    "packing_per_epoch": pack_stats}


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


def token_loss_sum(model, batch: dict) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over the target tokens of a batch, and their count.

    `batch` holds the model inputs and collate's `target_index` / `target_ids` on the
    device. Only target positions go through the LM head: with a 32K vocabulary the
    head is most of a small model's compute, and prompt positions need no logits.
    The positions were found on the host, so selecting them does not wait for the GPU."""
    core = getattr(model, "module", model)  # a DeepSpeed engine wraps the model
    inputs = {k: batch[k] for k in MODEL_INPUTS if k in batch}
    index, targets = batch["target_index"], batch["target_ids"]
    if hasattr(core, "model") and hasattr(core, "lm_head"):
        hidden = core.model(**inputs, use_cache=False).last_hidden_state
        logits = core.lm_head(hidden.flatten(0, 1).index_select(0, index))
    else:
        logits = model(**inputs, use_cache=False).logits.flatten(0, 1).index_select(0, index)
    loss = torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum")
    return loss, targets.numel()


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

    with _Loading(path, load_hint or "give a Hugging Face checkpoint folder"):
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


# ----------------------------------------------------------------------------- the loop

def train(config: TrainConfig, console=None) -> dict[str, Path]:
    """Train every stage in order (finished stages are skipped); returns stage -> final checkpoint."""
    outputs = {}
    for index, stage in enumerate(config.stages):
        outputs[stage.name] = train_stage(config, stage, index, data=prepare_data, loss_fn=token_loss_sum,
                                          console=console)
    return outputs


def train_stage(config: TrainConfig, stage: StageConfig, index: int = 0, *, data=prepare_data,
                loss_fn=token_loss_sum, checkpoints: StageCheckpoints | None = None, console=None) -> Path:
    """Train one stage to completion, resuming from its newest checkpoint; returns its final checkpoint.

    Its parts: `data(stage, tokenizer, seed)` -> (packed rows per epoch, data statistics),
    as `prepare_data`; `loss_fn(model, batch)` -> (summed loss, target count), as
    `token_loss_sum`; `checkpoints`, where checkpoints go (default: the stage directory)."""
    from rich.console import Console
    from transformers.utils import logging as hf_logging

    console = console or Console(stderr=True)
    hf_logging.disable_progress_bar()  # ours is the progress bar; theirs would interleave
    stage_dir = config.output_dir / stage.name
    checkpoints = checkpoints or StageCheckpoints(stage_dir)
    identity = stage_identity(config, stage)
    checkpoints.check_identity(stage.name, identity)
    done = checkpoints.final()
    if done is not None:
        console.print(f"[green]stage {stage.name}: already trained[/] -> {done}")
        return done

    use_ds = config.deepspeed is not None
    deepspeed = init_for_deepspeed() if use_ds else None
    rank, world = rank_world()
    device, attn = choose_device(config)
    if rank == 0:  # after the checks of the settings: a refused config leaves no stage folder
        # Two identical trainings on one folder removed each other's half-written checkpoints
        # and failed on a missing file; the second now says what is going on. Held until return.
        writer = OneWriter(stage_dir, f"orca-eval train (stage {stage.name})",  # noqa: F841
                           lock_path=stage_dir / ".lock", instead="choose another output_dir").hold()

    # 1. init checkpoint, tokenizer, resume point
    init_dir = resolve_init(config, stage, rank)
    resume_dir = checkpoints.latest()
    with _Loading(init_dir, _init_hint(stage)):
        tokenizer = load_tokenizer(config, init_dir)

    # 2. data, packed for every epoch
    seed = config.seed * 100 + index
    epoch_rows, data_stats = data(stage, tokenizer, seed)
    rows_per_step = stage.batch_size * stage.grad_accum * world
    if use_ds:
        # DeepSpeed counts micro-batches to find step boundaries, and ranks must take
        # the same number of steps: wrap each epoch round to whole steps (as
        # DistributedSampler pads), instead of ending on a short step.
        epoch_rows = [rows + [rows[i % len(rows)] for i in range((-len(rows)) % rows_per_step)]
                      for rows in epoch_rows]
    steps_per_epoch = [math.ceil(len(rows) / rows_per_step) for rows in epoch_rows]
    total_steps = sum(steps_per_epoch)
    warmup = stage.warmup_steps or round(stage.warmup_ratio * total_steps)
    if rank == 0:
        checkpoints.begin(identity)
        write_json_atomic(stage_dir / "data_stats.json", {**data_stats, "steps_per_epoch": steps_per_epoch})
        p = data_stats["packing"]
        console.print(f"stage {stage.name}: {p['examples']} examples -> {p['rows']} rows of <= {stage.max_len} "
                      f"tokens (packing factor {p['packing_factor']}, efficiency {p['efficiency']:.3f}, "
                      f"{data_stats['tokenize']['truncated']} truncated); {total_steps} steps on {device} "
                      f"x{world}, attention {attn}" + (", DeepSpeed" if use_ds else ""))

    # 3. model, optimizer, schedule (from the resume point, if any)
    torch.manual_seed(seed)
    schedule = lr_lambda(total_steps, warmup, stage.min_lr_ratio)
    stepper = make_stepper(config, stage, schedule, tokenizer, attn, device, init_dir, resume_dir, world,
                           deepspeed, load_hint=_resume_hint(checkpoints) if resume_dir and deepspeed is None
                           else _init_hint(stage))
    model, device = stepper.model, stepper.device
    position = {"epoch": 0, "step_in_epoch": 0, "global_step": 0}
    if resume_dir:
        with _Loading(resume_dir, _resume_hint(checkpoints)):
            position = stepper.load(checkpoints, resume_dir)
        if rank == 0:
            console.print(f"stage {stage.name}: resuming from {resume_dir.name} "
                          f"(epoch {position['epoch'] + 1}, step {position['step_in_epoch']})")

    metrics_path = stage_dir / "metrics.jsonl"
    if rank == 0:
        _drop_metrics_after(metrics_path, position["global_step"])

    # 4. the loop
    progress = _progress(console) if rank == 0 else None
    task = progress.add_task(stage.name, total=total_steps, completed=position["global_step"],
                             loss="-", tps="-", lr="-") if progress else None
    tokens_seen, t0 = 0, time.perf_counter()
    # One shape for every micro-batch where a kernel is compiled per shape (FlexAttention's,
    # torch.compile's): rows of max_len, and a short last micro-batch filled up with padding
    # rows. Packing fills rows to ~99 %, so the padding costs little.
    pad_to = stage.max_len if (attn == "flex_attention" or config.compile) else None
    # Summed target-token loss since the last metrics line, kept on the device: reading it
    # back (.item()) makes the host wait for the GPU, so that happens only when logging.
    window_loss, window_targets = torch.zeros((), device=device), 0
    loss = None
    try:
        for epoch in range(position["epoch"], stage.epochs):
            rows = epoch_rows[epoch][rank::world] if world > 1 else epoch_rows[epoch]
            micro_batches = [rows[i:i + stage.batch_size] for i in range(0, len(rows), stage.batch_size)]
            for step in range(position["step_in_epoch"], steps_per_epoch[epoch]):
                batches = micro_batches[step * stage.grad_accum:(step + 1) * stage.grad_accum]
                collated = [collate(b, attn, tokenizer.pad_token_id, pad_to, pad_rows_to=pad_to and stage.batch_size)
                            for b in batches]
                n_targets = max(1, sum(len(c["target_ids"]) for c in collated))  # counted on the host
                for c in collated:
                    batch = {**model_inputs(c, device, model.dtype),
                             **{k: c[k].to(device, non_blocking=True) for k in ("target_index", "target_ids")}}
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16 and stepper.autocast):
                        loss_sum, _ = loss_fn(stepper.forward_model, batch)
                    stepper.backward(loss_sum, n_targets)
                    window_loss += loss_sum.detach()
                    tokens_seen += c["n_real"]
                window_targets += n_targets
                stepper.step()
                position = {"epoch": epoch, "step_in_epoch": step + 1, "global_step": position["global_step"] + 1}
                log_now = rank == 0 and (position["global_step"] % config.log_every == 0
                                         or step + 1 == steps_per_epoch[epoch])
                if log_now:  # the one wait for the GPU: mean loss over the steps since the last line
                    loss = window_loss.item() / window_targets
                    window_loss.zero_()
                    window_targets = 0
                elapsed = time.perf_counter() - t0
                tps = tokens_seen * world / elapsed if elapsed > 0 else 0.0
                lr = stepper.scheduler.get_last_lr()[0]
                if progress:
                    progress.update(task, advance=1, loss="-" if loss is None else f"{loss:.4f}",
                                    tps=f"{tps:,.0f}", lr=f"{lr:.2e}")
                if log_now:
                    append_jsonl(metrics_path, [{"epoch": epoch + 1, "step": position["global_step"],
                                                 "loss": round(loss, 5), "lr": lr, "tokens_per_s": round(tps, 1)}])
                    if not console.is_terminal:
                        console.print(f"{stage.name} epoch {epoch + 1} step {position['global_step']}/{total_steps} "
                                      f"loss {loss:.4f} lr {lr:.2e} {tps:,.0f} tok/s")
                if stage.save_every_steps and position["global_step"] % stage.save_every_steps == 0 \
                        and step + 1 < steps_per_epoch[epoch]:
                    stepper.save(checkpoints, f"step-{position['global_step']}", tokenizer, position)
            position = {"epoch": epoch + 1, "step_in_epoch": 0, "global_step": position["global_step"]}
            stepper.save(checkpoints, f"epoch-{epoch + 1}", tokenizer, position)
    finally:
        if progress:
            progress.stop()
    final = stage_dir / f"epoch-{stage.epochs}"
    if rank == 0:
        checkpoints.finish(final.name)
        console.print(f"[green]stage {stage.name}: done[/] -> {final}")
    barrier()
    return final


def _drop_metrics_after(path: Path, global_step: int) -> None:
    """Steps after the resume point were logged before the kill and are about to be
    redone: drop their lines, so metrics.jsonl holds each step once."""
    rows = read_jsonl(path, what="training metrics").rows
    keep = [r for r in rows if not (isinstance(r.get("step"), int) and r["step"] > global_step)]
    if len(keep) != len(rows):
        write_jsonl_atomic(path, keep)


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


def _progress(console):
    """The bar on a terminal only: in a log, the loop prints its own metrics lines."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

    from orca.progress import progress_display

    progress = progress_display(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[tps]} tok/s"),
                                TextColumn("lr {task.fields[lr]}"), TimeRemainingColumn(), console=console)
    progress.start()
    return progress


def main(argv: list[str] | None = None) -> int:
    """`python -m orca.train CONFIG` -- the entry point for torchrun / deepspeed launchers."""
    argv = sys.argv[1:] if argv is None else argv
    args = [a for a in argv if not a.startswith("--local_rank") and not a.startswith("--local-rank")]
    if len(args) != 1:
        print("usage: python -m orca.train CONFIG", file=sys.stderr)
        return 2

    def train_config_file() -> None:  # train() returns the checkpoints, not an exit code
        train(load_train_config(args[0]))

    return run_entry_point(train_config_file)  # orca's UserErrors all exit 2, as before


if __name__ == "__main__":
    sys.exit(main())
