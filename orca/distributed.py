"""torch.distributed, for training (orca/train.py, orca/checkpointing.py) and data-parallel
evaluation (harness/models/lmeval_backend.py): one place that knows how to start the process group and
ask it for rank, world size and barriers. Outside a launcher everything is a single
process: rank 0 of 1, barriers return at once.
"""
from __future__ import annotations

import os

import torch


def is_initialized() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def rank_world() -> tuple[int, int]:
    """This process's rank and the number of processes."""
    if is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def barrier() -> None:
    if is_initialized():
        torch.distributed.barrier()


def launched_with_several_processes() -> bool:
    """Under `torchrun` / `accelerate launch` with more than one process (they set WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join_process_group() -> None:
    """Start the default process group if a launcher started several processes and no one
    has started it yet (HFLM's accelerator does on multi-GPU hosts): NCCL on GPUs, else gloo."""
    if launched_with_several_processes() and not is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def init_for_deepspeed():
    """Import DeepSpeed and start its process group; returns the `deepspeed` module.

    A single process without a launcher gets a rendezvous of its own (rank 0 of 1 on a
    free local port), so a DeepSpeed config also runs as `orca-eval train`."""
    import deepspeed

    for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1")):
        os.environ.setdefault(key, value)
    if "MASTER_PORT" not in os.environ:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            os.environ["MASTER_PORT"] = str(s.getsockname()[1])
    if not is_initialized():
        deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo")
    return deepspeed


def leave_process_group() -> None:
    """End the default process group, after every rank got here. A launched process that exits
    with the group still alive leaves gloo's threads to static destructors, and under torchrun a
    rank then sometimes aborted at exit ("terminate called without an active exception",
    SIGABRT) after its work was done and saved, which failed the whole launch."""
    if is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
