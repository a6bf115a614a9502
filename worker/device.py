"""Which device class this worker serves, and what its GPUs are."""

from __future__ import annotations

import torch

from warmstep.workers import GpuInfo


def device_kind(requested: str) -> str:
    if requested == "cuda" and not torch.cuda.is_available():
        raise SystemExit("worker_device=cuda but torch sees no CUDA device")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def gpus() -> list[GpuInfo]:
    if not torch.cuda.is_available():
        return []
    return [
        GpuInfo(name=props.name, memory_bytes=int(props.total_memory))
        for props in (torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count()))
    ]
