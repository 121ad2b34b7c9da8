"""torchrun's process group as the trainer uses it: join and leave it, sum and gather over ranks.

Outside a process group (one process) every helper is the single-process identity: rank 0 of 1,
sums and gathers over one rank.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import torch
import torch.distributed as dist


def _joined() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank_and_world() -> tuple[int, int]:
    """(this process's rank, number of processes)."""
    if _joined():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def local_rank() -> int:
    """torchrun's LOCAL_RANK (0 outside torchrun): the index of this process's GPU."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def local_device(device: torch.device) -> torch.device:
    """``device`` with a bare ``cuda`` pinned to this process's GPU, ``cuda:LOCAL_RANK``."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", local_rank())
    return device


@contextmanager
def process_group(gpu: bool = False):
    """Join torchrun's process group for the block if WORLD_SIZE > 1 and none is joined yet
    (nccl with ``gpu``, else gloo; torch CPU threads: cores / ranks), and leave it afterwards."""
    created = False
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if gpu:
            torch.cuda.set_device(local_rank())
        dist.init_process_group("nccl" if gpu else "gloo")
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // dist.get_world_size()))
        created = True
    try:
        yield
    finally:
        if created:
            dist.destroy_process_group()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over ranks, in place (through the GPU under nccl); returns ``t``."""
    if _joined():
        if dist.get_backend() == "nccl" and t.device.type != "cuda":
            x = t.cuda()
            dist.all_reduce(x)
            t.copy_(x.cpu())
        else:
            dist.all_reduce(t)
    return t


def gather_objects(obj) -> list:
    """Every rank's ``obj`` (picklable), in rank order."""
    _, world = rank_and_world()
    if world == 1:
        return [obj]
    gathered = [None] * world
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier() -> None:
    """Wait until every rank gets here."""
    if _joined():
        dist.barrier()
