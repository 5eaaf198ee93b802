"""Explanation tuning, one stage after another (Orca §3.2), readable top to bottom.

For each stage of a config (orca/train_config.py):

1. resolve the init checkpoint (a path, `tiny:SEED`, or `stage:NAME` = that stage's
   last epoch), load its tokenizer with [[PAD]] and grow the embeddings to match;
2. read the teacher data, tokenize with teacher-only labels (orca/tokenize.py), and
   pack every epoch's rows up front (orca/packing.py; seeded per epoch, so a resumed
   run sees exactly the rows it would have seen);
3. AdamW (fused on CUDA) with linear warmup then cosine decay to `min_lr_ratio * lr`;
   the loss is the mean over all target tokens of an optimizer step (summed over its
   micro-batches, so gradient accumulation equals a bigger batch). Nothing in a step
   waits for the GPU: target positions come from the host, the loss is summed on the
   device and read back only when a metrics line is written;
4. after every epoch (and every `save_every_steps`) an atomic checkpoint directory:
   Hugging Face weights + tokenizer (`orca-eval run --model hf:DIR` loads it) and
   `trainer_state.pt` (optimizer, scheduler, RNG, data position); `state.json` in
   the stage directory names the newest complete one, so `kill -9` at any moment
   loses at most the steps since it and a rerun continues from there.

DeepSpeed (ZeRO-2/3, bf16) is used only when the config names a DeepSpeed JSON,
and only then imported; launch with `torchrun --nproc_per_node N -m orca.train CONFIG`
or `deepspeed --num_gpus N --module orca.train CONFIG` (see docs/training.md).
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
import sys
import time
from pathlib import Path

import torch

from orca.errors import UserError
from orca.io import append_jsonl, read_jsonl, write_json_atomic, write_jsonl_atomic
from orca.packing import MODEL_INPUTS, collate, model_inputs, pack_examples
from orca.paths import tokenizer_dir
from orca.tiny import load_tokenizer_with_pad, make_tiny_llama
from orca.tokenize import load_examples, resize_embeddings_for_tokenizer, tokenize_examples
from orca.train_config import (StageConfig, TrainConfig, identity_changes, identity_sha256, load_train_config,
                               stage_identity)

STATE_FILE = "state.json"
TRAINER_STATE = "trainer_state.pt"
IDENTITY_FILE = "config_identity.json"  # what the stage's result depends on (orca.train_config.stage_identity)


# ----------------------------------------------------------------------------- setup

def stage_result(config: TrainConfig, name: str) -> Path | None:
    """The final checkpoint of a finished stage, else None."""
    state = _read_state(config.output_dir / name)
    return config.output_dir / name / state["final"] if state.get("done") else None


def _read_state(stage_dir: Path) -> dict:
    path = stage_dir / STATE_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _check_identity(stage_dir: Path, stage: StageConfig, identity: dict) -> None:
    """Refuse to resume or reuse a stage trained under a different config: its checkpoints
    and result belong to the old settings. IDENTITY_FILE records the config a stage's
    training started with (none: trained before this check; taken as it is)."""
    path = stage_dir / IDENTITY_FILE
    state = _read_state(stage_dir)
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
        raise UserError(f"stage {stage.name!r}: {stage_dir} holds training of a different config (changed: "
                        f"{', '.join(changed)}); restore those settings, or choose another output_dir to train anew")


def resolve_init(config: TrainConfig, stage: StageConfig, rank: int = 0) -> Path:
    """Path of the checkpoint a stage starts from."""
    if stage.init.startswith("stage:"):
        path = stage_result(config, stage.init[6:])
        if path is None:
            raise UserError(f"stage {stage.name!r}: init {stage.init!r} has not finished training")
        return path
    if stage.init.startswith("tiny:"):
        seed = int(stage.init[5:])
        path = config.output_dir / f"init-tiny-{seed}"
        if rank == 0 and not (path / "config.json").exists():
            make_tiny_llama(path, seed=seed, tokenizer_path=config.tokenizer)
        _barrier()
        return path
    path = Path(stage.init)
    if not (path / "config.json").is_file():
        raise UserError(f"stage {stage.name!r}: init {path} is not a Hugging Face checkpoint (no config.json)")
    return path


def load_tokenizer(config: TrainConfig, init_dir: Path):
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
    """Linear warmup to 1, then cosine decay to min_ratio."""
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


# ----------------------------------------------------------------------------- distributed helpers

def _dist():
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _barrier():
    if _dist():
        torch.distributed.barrier()


def _rank_world() -> tuple[int, int]:
    if _dist():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


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


def _init_distributed_for_deepspeed():
    import deepspeed

    # A single process without a launcher: give torch.distributed its rendezvous.
    for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1")):
        os.environ.setdefault(key, value)
    if "MASTER_PORT" not in os.environ:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            os.environ["MASTER_PORT"] = str(s.getsockname()[1])
    if not _dist():
        deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo")
    return deepspeed


# ----------------------------------------------------------------------------- checkpoints

def _save_checkpoint(stage_dir: Path, name: str, model, tokenizer, engine, optimizer, scheduler,
                     position: dict, zero_stage: int) -> None:
    """Write checkpoint `name` atomically and point state.json at it."""
    rank, _ = _rank_world()
    final = stage_dir / name
    tmp = stage_dir / f".tmp-{name}"
    if rank == 0 and tmp.exists():
        shutil.rmtree(tmp)
    _barrier()
    if engine is not None:
        # Collective calls: every rank takes part.
        engine.save_checkpoint(str(tmp / "deepspeed"), tag="state", client_state=position)
        state_dict = engine._zero3_consolidated_16bit_state_dict() if zero_stage == 3 else None
        module = engine.module
    else:
        state_dict, module = None, model
    if rank == 0:
        if state_dict is not None:
            module.save_pretrained(tmp, state_dict=state_dict)
        else:
            module.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        trainer_state = {"position": position, "rng": _rng_state()}
        if engine is None:
            trainer_state.update(optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict())
        torch.save(trainer_state, tmp / TRAINER_STATE)
        if final.exists():  # left by a kill between rename and state update
            shutil.rmtree(final)
        os.replace(tmp, final)
        state = _read_state(stage_dir)
        previous = state.get("checkpoint")
        write_json_atomic(stage_dir / STATE_FILE, {**state, "checkpoint": name, "position": position})
        # Mid-epoch checkpoints are only for resuming: keep the newest one.
        if previous and previous.startswith("step-") and previous != name:
            shutil.rmtree(stage_dir / previous, ignore_errors=True)
    _barrier()


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


# ----------------------------------------------------------------------------- the loop

def train(config: TrainConfig, console=None) -> dict[str, Path]:
    """Train every stage in order (finished stages are skipped); returns stage -> final checkpoint."""
    outputs = {}
    for index, stage in enumerate(config.stages):
        outputs[stage.name] = train_stage(config, stage, index, console=console)
    return outputs


def train_stage(config: TrainConfig, stage: StageConfig, index: int = 0, console=None) -> Path:
    """Train one stage to completion, resuming from its newest checkpoint; returns its final checkpoint."""
    from rich.console import Console
    from transformers import AutoModelForCausalLM

    console = console or Console(stderr=True)
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()  # ours is the progress bar; theirs would interleave
    stage_dir = config.output_dir / stage.name
    identity = stage_identity(config, stage)
    _check_identity(stage_dir, stage, identity)
    done = stage_result(config, stage.name)
    if done is not None:
        console.print(f"[green]stage {stage.name}: already trained[/] -> {done}")
        return done

    use_ds = config.deepspeed is not None
    deepspeed = _init_distributed_for_deepspeed() if use_ds else None
    rank, world = _rank_world()
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

    # 1. init checkpoint, tokenizer, resume point
    init_dir = resolve_init(config, stage, rank)
    state = _read_state(stage_dir)
    resume_dir = stage_dir / state["checkpoint"] if state.get("checkpoint") else None
    tokenizer = load_tokenizer(config, init_dir)

    # 2. data, packed for every epoch
    seed = config.seed * 100 + index
    epoch_rows, data_stats = prepare_data(stage, tokenizer, seed)
    micro_per_step = stage.grad_accum * world
    if use_ds:
        # DeepSpeed counts micro-batches to find step boundaries, and ranks must take
        # the same number of steps: wrap each epoch round to whole steps (as
        # DistributedSampler pads), instead of ending on a short step.
        per_step = stage.batch_size * micro_per_step
        epoch_rows = [rows + [rows[i % len(rows)] for i in range((-len(rows)) % per_step)] for rows in epoch_rows]
    steps_per_epoch = [math.ceil(len(rows) / (stage.batch_size * micro_per_step)) for rows in epoch_rows]
    total_steps = sum(steps_per_epoch)
    warmup = stage.warmup_steps or round(stage.warmup_ratio * total_steps)
    if rank == 0:
        stage_dir.mkdir(parents=True, exist_ok=True)
        for stale in stage_dir.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        write_json_atomic(stage_dir / "data_stats.json", {**data_stats, "steps_per_epoch": steps_per_epoch})
        write_json_atomic(stage_dir / IDENTITY_FILE, {"sha256": identity_sha256(identity), "identity": identity})
        p = data_stats["packing"]
        console.print(f"stage {stage.name}: {p['examples']} examples -> {p['rows']} rows of <= {stage.max_len} "
                      f"tokens (packing factor {p['packing_factor']}, efficiency {p['efficiency']:.3f}, "
                      f"{data_stats['tokenize']['truncated']} truncated); {total_steps} steps on {device} "
                      f"x{world}, attention {attn}" + (", DeepSpeed" if use_ds else ""))

    # 3. model, optimizer, schedule
    torch.manual_seed(seed)
    ds_config = _deepspeed_config(config.deepspeed, stage, world, config.bf16) if use_ds else None
    zero_stage = (ds_config or {}).get("zero_optimization", {}).get("stage", 0)
    if zero_stage == 3:
        from transformers.integrations import HfDeepSpeedConfig
        hf_ds = HfDeepSpeedConfig(ds_config)  # noqa: F841 -- must live while loading: ZeRO-3 partitions at load
    load_from = resume_dir if (resume_dir and not use_ds) else init_dir
    # fp32 master weights; bf16 comes from DeepSpeed's bf16 mode or, without it, autocast.
    model = AutoModelForCausalLM.from_pretrained(load_from, attn_implementation=attn, dtype=torch.float32)
    resize_embeddings_for_tokenizer(model, tokenizer)
    if config.gradient_checkpointing:  # 13B at 2048 tokens: recompute activations instead of storing them
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.to(device)
    model.train()
    if config.compile:
        # Compile the decoder only: the LM head runs on a varying number of target
        # positions, which would make every micro-batch a new shape.
        getattr(model, "model", model).compile()
    schedule = lr_lambda(total_steps, warmup, stage.min_lr_ratio)
    engine = optimizer = scheduler = None
    if use_ds:
        engine, optimizer, _, scheduler = deepspeed.initialize(
            model=model, model_parameters=model.parameters(), config=ds_config,
            lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, schedule))
        device = engine.device
    else:
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": stage.weight_decay},
                                       {"params": no_decay, "weight_decay": 0.0}],
                                      lr=stage.lr, betas=tuple(stage.betas), fused=device.type == "cuda")
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)

    position = {"epoch": 0, "step_in_epoch": 0, "global_step": 0}
    if resume_dir:
        saved = torch.load(resume_dir / TRAINER_STATE, weights_only=False)
        position = saved["position"]
        if use_ds:
            engine.load_checkpoint(str(resume_dir / "deepspeed"), tag="state")
        else:
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
        _set_rng_state(saved["rng"])
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
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16 and not use_ds):
                        loss_sum, _ = token_loss_sum(engine or model, batch)
                    if use_ds:
                        # DeepSpeed divides by grad_accum itself; undo it so the step is a token mean.
                        engine.backward(loss_sum * stage.grad_accum / n_targets)
                        engine.step()
                    else:
                        (loss_sum / n_targets).backward()
                    window_loss += loss_sum.detach()
                    tokens_seen += c["n_real"]
                window_targets += n_targets
                if not use_ds:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), stage.grad_clip)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    scheduler.step()
                position = {"epoch": epoch, "step_in_epoch": step + 1, "global_step": position["global_step"] + 1}
                log_now = rank == 0 and (position["global_step"] % config.log_every == 0
                                         or step + 1 == steps_per_epoch[epoch])
                if log_now:  # the one wait for the GPU: mean loss over the steps since the last line
                    loss = window_loss.item() / window_targets
                    window_loss.zero_()
                    window_targets = 0
                elapsed = time.perf_counter() - t0
                tps = tokens_seen * world / elapsed if elapsed > 0 else 0.0
                lr = scheduler.get_last_lr()[0]
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
                    _save_checkpoint(stage_dir, f"step-{position['global_step']}", model, tokenizer, engine,
                                     optimizer, scheduler, position, zero_stage)
            position = {"epoch": epoch + 1, "step_in_epoch": 0, "global_step": position["global_step"]}
            _save_checkpoint(stage_dir, f"epoch-{epoch + 1}", model, tokenizer, engine, optimizer, scheduler,
                             position, zero_stage)
    finally:
        if progress:
            progress.stop()
    if rank == 0:
        write_json_atomic(stage_dir / STATE_FILE, {**_read_state(stage_dir), "done": True,
                                                   "final": f"epoch-{stage.epochs}"})
        for leftover in stage_dir.glob("step-*"):  # resume points are useless once the stage is done
            shutil.rmtree(leftover, ignore_errors=True)
        console.print(f"[green]stage {stage.name}: done[/] -> {stage_dir / f'epoch-{stage.epochs}'}")
    _barrier()
    return stage_dir / f"epoch-{stage.epochs}"


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
    try:
        train(load_train_config(args[0]))
    except UserError as e:
        print(f"orca-eval: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
