"""Where training runs: the device, and the process group when ``torchrun`` starts one process per GPU or CPU."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from scribe.errors import ScribeError


@dataclass
class Runtime:
    """Device and process-group facts of this process."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(choice: str) -> torch.device:
    """``auto`` uses CUDA when present; asking for CUDA without it is a user error."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ScribeError("`device` cuda was asked for but no CUDA GPU is available; use `device` cpu")
    if choice not in ("cpu", "cuda"):
        raise ScribeError(f"unknown device {choice!r}; choose auto, cpu or cuda")
    return torch.device(choice)


def start_runtime(choice: str) -> Runtime:
    """Join the process group when launched by ``torchrun`` (NCCL on GPUs, gloo on CPUs)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(choice)
    if world_size == 1:
        return Runtime(device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Runtime(device, rank, world_size)


def end_runtime(finished: bool) -> None:
    """Leave the process group, if this process joined one; once ``finished``, after the others are done too.

    A gloo process that left while another was still at work aborted as it exited
    ("terminate called without an active exception": 3 of 12 two-process runs; 0 of
    24 with the barrier). After a failure there is no waiting: the others may never
    get there, and the launcher stops them.
    """
    if dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()
