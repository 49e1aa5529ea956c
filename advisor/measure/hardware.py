"""Finds the device to run on and describes the hardware for the report."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field

from advisor.errors import DeviceError
from advisor.records import Record


@dataclass
class Hardware(Record):
    """The machine a run measured on (the report's hardware section), in the order the report lists it."""

    device: str | None = None
    cpu_cores: int | None = None
    machine: str | None = None
    torch: str | None = None
    gpu: str | None = None
    gpu_memory_gib: float | None = None
    memory_gib: float | None = None
    extra: dict = field(default_factory=dict)


def resolve_device(requested: str = "auto") -> str:
    """'auto' picks CUDA, then Apple MPS, then CPU; an explicit device must be present."""
    import torch  # heavy; the device decides how models are loaded

    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if requested == "cuda" and not cuda:
        raise DeviceError("device 'cuda' was asked for but no CUDA GPU is visible to torch",
                          hint="use --device auto or cpu")
    if requested == "mps" and not mps:
        raise DeviceError("device 'mps' was asked for but Apple MPS is not available",
                          hint="use --device auto or cpu")
    return requested


def describe_hardware(device: str) -> Hardware:
    import torch

    info = Hardware(device=device, cpu_cores=os.cpu_count(), machine=platform.machine(), torch=torch.__version__)
    if device == "cuda":
        info.gpu = torch.cuda.get_device_name(0)
        info.gpu_memory_gib = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    try:
        info.memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return info
