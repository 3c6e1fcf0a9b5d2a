"""Compile only when it pays for itself, and keep inductor's on-disk caches across runs.

``torch.compile`` costs tens of seconds on a small CPU and speeds up each step, so a short run
loses more than it gains (docs/LOG.md, 2026-11-30). A run with ``compile = true`` times its
first steps eagerly and compiles only when the rest of the run would save more than the
compile costs, by the last cost recorded for the same shape on this machine. Inductor's cache
moves from /tmp (often wiped at boot) to ``~/.cache/llmv0/inductor`` unless
``TORCHINDUCTOR_CACHE_DIR`` is set, so a second run of the same shape compiles much faster.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"
COSTS_FILE = "llmv0-compile-seconds.json"
DEFAULT_COMPILE_S = 25.0  # gpt-cpu, cold cache, 2-core CPU (docs/LOG.md, 2026-11-30)
# Compiled step speed over eager, measured for gpt-cpu (docs/LOG.md, 2026-11-30).

SPEEDUP = {"bfloat16": 1.4, "float16": 1.4, "float32": 1.25}
MARGIN = 1.25  # compile only when the expected saving beats the cost by a quarter
DECIDE_AFTER = 4  # eager steps timed before deciding (the first is a warm-up)


def use_persistent_cache() -> Path:
    """Point inductor's caches at a folder that survives reboots (unless already set)."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    current = os.environ.get(CACHE_ENV)
    # Importing torch._dynamo fills the variable in with inductor's own default (a folder in
    # /tmp, lost at reboot) long before a model is compiled: that value is not a user's choice.
    if current is None or current == _inductor_default():
        os.environ[CACHE_ENV] = str(default / "llmv0" / "inductor")
    return Path(os.environ[CACHE_ENV])


def _inductor_default() -> str | None:
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir
    except ImportError:  # a torch without inductor: nothing to tell apart
        return None
    return os.path.abspath(default_cache_dir())


def signature(cfg: Any, dtype: str, device: str) -> str:
    """What a compiled graph depends on: model shape, batch shape, precision, device."""
    shape = (
        f"{cfg.model}-{cfg.n_layer}x{cfg.n_head}x{cfg.n_embd}-{cfg.position_encoding}-"
        f"{cfg.activation}"
        if cfg.model == "gpt"
        else f"{cfg.model}-{cfg.num_layers}x{cfg.hidden_dim}-e{cfg.embedding_dim}"
    )
    return f"{shape}-b{cfg.batch_size}x{cfg.seq_length}-d{cfg.dropout:g}-{dtype}-{device}"


def recorded_cost(sig: str) -> float | None:
    """The last measured compile time for ``sig`` on this machine, if any."""
    try:
        costs = json.loads((use_persistent_cache() / COSTS_FILE).read_text(encoding="utf-8"))
        return float(costs[sig])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_cost(sig: str, seconds: float) -> None:
    """Remember a measured compile time (best effort: a read-only home is no error)."""
    path = use_persistent_cache() / COSTS_FILE
    try:
        costs = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        if not isinstance(costs, dict):
            costs = {}
        costs[sig] = round(seconds, 2)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(costs, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except (OSError, ValueError):
        pass


def worth_compiling(
    steps_left: float, eager_step_s: float, compile_s: float, dtype: str
) -> tuple[bool, str]:
    """Whether compiling now saves more time than it costs; and a note saying why."""
    speedup = SPEEDUP.get(dtype, 1.25)
    saving = steps_left * eager_step_s * (1 - 1 / speedup)
    verdict = saving > MARGIN * compile_s
    what = "compiling" if verdict else "not compiling (eager is faster end to end)"
    return verdict, (
        f"compile: {what}: {steps_left:,.0f} steps left at {eager_step_s * 1000:.0f} ms would "
        f"save ~{saving:.0f} s against ~{compile_s:.0f} s of compiling"
    )
