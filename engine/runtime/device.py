"""Device and precision selection: cuda, then mps, then cpu; bf16 where it is fast and safe."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from engine.config.schema import RunConfig
from engine.errors import UserError

log = logging.getLogger(__name__)


class DeviceError(UserError, RuntimeError):
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


def configure_cpu(num_threads: int) -> str:
    """Set PyTorch's CPU threads (0 = one per core this process may use); returns a note.

    PyTorch's default is the number of logical CPUs, which oversubscribes a machine whose
    cores are shared or hyper-threaded; one thread per usable core is the safe fast choice.
    Denormals are not flushed: that process-wide FPU setting would leak into the caller's
    other code (the dashboard, tests) for no measured gain here.
    """
    if num_threads <= 0:
        try:
            num_threads = len(os.sched_getaffinity(0))
        except AttributeError:  # macOS, Windows
            num_threads = os.cpu_count() or 1
    torch.set_num_threads(num_threads)
    return f"cpu threads: {num_threads}"


class CompiledModel(nn.Module):
    """``torch.compile`` for training steps, eager for everything else, eager after a failure.

    Only ``forward`` in training mode with gradients on goes through the compiled graph: the
    training batch has one shape, so it compiles once. Evaluation (other batch shapes) and
    ``step()`` (growing KV caches) run eagerly rather than paying for recompiles. If the
    compiled call raises (no C++ compiler, an unsupported op), the error is logged once and
    the model runs eagerly from then on; ``failure`` says why, for the run's notes.
    """

    def __init__(self, model: nn.Module, **compile_kwargs: Any) -> None:
        super().__init__()
        self._orig_mod = model  # the name checkpoint.unwrap() looks for
        # Not registered as a submodule: the state_dict stays the plain model's.
        object.__setattr__(self, "_compiled", torch.compile(model, **compile_kwargs))
        self.failure: str | None = None
        # False: train eagerly until the trainer decides compiling pays (compile_policy).
        self.active = True

    def decide(self, use_compiled: bool) -> None:
        """Compile from the next training step (True) or stay eager for good (False)."""
        self.active = use_compiled

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None) -> Any:
        if self.failure is None and self.active and self.training and torch.is_grad_enabled():
            try:
                return self._compiled(idx, targets)
            except Exception as exc:  # any compiler failure: fall back, visibly
                self.failure = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                log.warning("torch.compile failed (%s); continuing eagerly", self.failure)
        return self._orig_mod(idx, targets)

    def init_state(self, batch_size: int) -> Any:
        return self._orig_mod.init_state(batch_size)

    def step(self, idx: torch.Tensor, state: Any) -> Any:
        return self._orig_mod.step(idx, state)


def compile_unavailable_reason(device: torch.device) -> str | None:
    """Why ``torch.compile`` cannot work here, or None when it should."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    if sys.version_info >= (3, 14) and not hasattr(torch, "_dynamo"):
        return f"torch.compile does not support Python {sys.version_info[:2]} in this build"
    if device.type == "mps":
        return "torch.compile's inductor backend does not support mps well"
    if device.type == "cpu" and not any(shutil.which(cc) for cc in ("c++", "g++", "clang++")):
        return "no C++ compiler found (inductor needs one on CPU; install g++ or clang)"
    return None


def maybe_compile(
    model: nn.Module, cfg: RunConfig, device: torch.device
) -> tuple[nn.Module, str | None]:
    """``model`` compiled when ``cfg.compile`` asks and it can work, plus a note for the run.

    The note says what happened ("compile: inductor" or why it fell back to eager); None when
    compilation was not asked for. A failure at the first compiled call also falls back (see
    :class:`CompiledModel`).
    """
    if not cfg.compile:
        return model, None
    reason = compile_unavailable_reason(device)
    if reason is not None:
        log.warning("compile requested but unavailable: %s; running eager", reason)
        return model, f"compile: unavailable ({reason}); running eager"
    from engine.runtime.compile_policy import use_persistent_cache

    use_persistent_cache()  # compiled graphs survive reboots: later runs compile faster
    if device.type == "cpu":
        # Dropout masks from ATen's generator rather than inductor's inline Philox code,
        # which made dropout steps slower on CPU (docs/LOG.md, 2026-11-25); compiled and
        # eager runs then also draw the same random numbers.

        import torch._inductor.config as inductor_config

        inductor_config.fallback_random = True
        if cfg.num_threads == 0:
            # The thread count is measured and may change mid-run (engine.runtime.threads): kernels
            # that read it at run time, rather than baking it in, need no recompile then.
            inductor_config.cpp.dynamic_threads = True
    return CompiledModel(model, dynamic=False), "compile: torch.compile (inductor), training only"
