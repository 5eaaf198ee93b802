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

Here: the loop and the stage's default parts (`prepare_data`, `token_loss_sum`). Its setup
(init checkpoint, tokenizer, device, attention, model) is orca/train_setup.py, the optimizer
step and the lr schedule orca/train_optim.py; their names stay importable from here.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch

from orca.checkpointing import StageCheckpoints
from orca.distributed import barrier, init_for_deepspeed, leave_process_group, rank_world
from orca.errors import UserError, run_entry_point
from orca.io import OneWriter, append_jsonl, read_jsonl, write_json_atomic, write_jsonl_atomic
from orca.packing import MODEL_INPUTS, collate, model_inputs, pack_examples
from orca.tokenize import load_examples, tokenize_examples
from orca.train_config import StageConfig, TrainConfig, load_train_config, stage_identity
from orca.train_optim import lr_lambda, make_stepper
from orca.train_setup import Loading, choose_device, init_hint, load_tokenizer, resolve_init, resume_hint


# ----------------------------------------------------------------------------- the stage's default parts: data and loss

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
        # and failed on a missing file; the second now says what is going on. Held until return:
        # `writer` is never read, on purpose -- the local keeps the OneWriter alive, and the lock
        # goes with it (OneWriter.__del__), so dropping the name would release it at once.
        writer = OneWriter(stage_dir, f"orca-eval train (stage {stage.name})",  # noqa: F841
                           lock_path=stage_dir / ".lock", instead="choose another output_dir").hold()

    # 1. init checkpoint, tokenizer, resume point
    init_dir = resolve_init(config, stage, rank)
    resume_dir = checkpoints.latest()
    with Loading(init_dir, init_hint(stage)):
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
                           deepspeed, load_hint=resume_hint(checkpoints) if resume_dir and deepspeed is None
                           else init_hint(stage))
    model, device = stepper.model, stepper.device
    position = {"epoch": 0, "step_in_epoch": 0, "global_step": 0}
    if resume_dir:
        with Loading(resume_dir, resume_hint(checkpoints)):
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
        leave_process_group()  # this is the launched process's end: a clean exit, see there

    return run_entry_point(train_config_file)  # orca's UserErrors all exit 2, as before


if __name__ == "__main__":
    sys.exit(main())
