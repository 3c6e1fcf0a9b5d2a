"""Device and precision selection: cuda, then mps, then cpu; bf16 where it is fast and safe."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from engine.config import RunConfig


class DeviceError(RuntimeError):
    """The requested device is not available on this machine."""


def select_device(name: str) -> torch.device:
    """'auto' picks cuda, then mps, then cpu; a named device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            "device is 'cuda' but PyTorch sees no CUDA GPU here (torch "
            f"{torch.__version__}). Set device to 'auto' or 'cpu', or install a CUDA build."
        )
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise DeviceError(
            "device is 'mps' but Apple's MPS backend is not available here. "
            "Set device to 'auto' or 'cpu'."
        )
    return torch.device(name)


def cpu_supports_bf16() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AVX-512 BF16 or AMX)."""
    try:
        caps = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # older torch
        return False
    if "AMX" in caps.upper():
        return True
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            flags = fh.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def select_dtype(cfg: RunConfig, device: torch.device) -> torch.dtype:
    """The compute dtype for autocast: float32 means no autocast."""
    if cfg.dtype == "float32":
        return torch.float32
    if cfg.dtype == "bfloat16":
        return torch.bfloat16
    if cfg.dtype == "float16":
        if device.type != "cuda":
            raise DeviceError("dtype 'float16' needs a CUDA GPU; use 'bfloat16' or 'auto'.")
        return torch.float16
    # auto
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_supports_bf16():
        return torch.bfloat16
    return torch.float32


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    """Autocast to ``dtype`` on ``device``, or nothing for float32."""
    if dtype == torch.float32:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
