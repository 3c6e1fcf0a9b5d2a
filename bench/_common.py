"""Helpers shared by the bench scripts: presets, the corpus, machine load, a results line."""

from __future__ import annotations

import os
import platform
import time

import torch

from engine.config.merge import merge
from engine.config.schema import RunConfig

PRESETS = ("lstm-seed", "gpt-cpu", "gpt-cpu-long", "gpt-gpu")

# A tiny GPT for --quick smoke runs: seconds on any CPU.
QUICK_OVERRIDES = [
    "model=gpt",
    "n_layer=2",
    "n_head=2",
    "n_embd=32",
    "seq_length=32",
    "batch_size=8",
    "compile=false",
]


def load_preset(name: str, overrides: list[str] | None = None) -> RunConfig:
    """A preset by name (configs/<name>.json) or path, with ``key=value`` overrides, on top
    of the defaults (as ``llmv0 train --config`` reads it)."""
    return merge(None, name, overrides, source="preset")


def machine_line() -> str:
    """CPU, threads, torch version and the current load, to print next to every figure."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    cpu = platform.processor() or platform.machine()
    return (
        f"torch {torch.__version__}, {cpu}, {os.cpu_count()} CPUs, "
        f"{torch.get_num_threads()} threads, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}"
    )


def reference_matmul_ms(size: int = 1024, repeats: int = 5) -> str:
    """Median time of one fp32 ``size``^3 matmul, at 1 thread and at every thread."""
    before = torch.get_num_threads()
    parts = []
    for threads in sorted({1, before}):
        torch.set_num_threads(threads)
        a = torch.randn(size, size)
        a @ a
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ a
            times.append(time.perf_counter() - start)
        median_ms = sorted(times)[repeats // 2] * 1e3
        parts.append(f"{threads} thread{'s' if threads > 1 else ''} {median_ms:.1f} ms")
    torch.set_num_threads(before)
    return f"reference matmul fp32 {size}^3: " + ", ".join(parts)


if __name__ == "__main__":  # python bench/_common.py: the load figures alone, before/after a run
    print(machine_line())
    print(reference_matmul_ms())
