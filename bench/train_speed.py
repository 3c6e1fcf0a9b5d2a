"""Training throughput (tokens/s) and model FLOP utilisation, per preset and precision.

Times the engine's training step in fp32 and bf16, eager and compiled, next to a *simple loop*
(the same model in plain fp32 eager PyTorch, default AdamW and threads), in interleaved rounds
(medians, so background load hits every mode alike). MFU uses nanoGPT/PaLM's model FLOPs and a
peak measured on this machine. On a shared machine ``--threads 1`` compares modes more fairly.

    python bench/train_speed.py [--preset gpt-gpu] [--quick] [--threads 1] [--whole-process]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import QUICK_OVERRIDES, load_preset, machine_line, reference_matmul_ms
from engine.config.schema import RunConfig
from engine.models import build_model
from engine.runtime.device import autocast, configure_cpu, maybe_compile, select_device
from engine.train.optim import build_optimizer

VOCAB = 65  # Tiny Shakespeare's characters


def model_flops_per_token(model: torch.nn.Module, cfg: RunConfig) -> float:
    """Training FLOPs per token (forward + backward), as nanoGPT/PaLM count them:
    6 * (parameters without position embeddings) + 12 * n_layer * n_embd * seq_length."""

    n_params = sum(p.numel() for p in model.parameters())
    if cfg.model == "gpt":
        if model.wpe is not None:
            n_params -= model.wpe.weight.numel()  # a lookup, not a matmul
        return 6 * n_params + 12 * cfg.n_layer * cfg.n_embd * cfg.seq_length
    n_params -= model.embedding.weight.numel()
    return 6 * n_params


def peak_flops(dtype: torch.dtype, device: torch.device) -> float:
    """What one large matmul reaches here in ``dtype``: the denominator of MFU (this
    machine's BLAS, not a datasheet number)."""

    a = torch.randn(2048, 2048, device=device, dtype=dtype)
    for _ in range(2):
        a @ a
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(5):
            a @ a
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 5 * 2 * 2048**3 / (time.perf_counter() - start))
    return best


@dataclass
class Mode:
    name: str
    dtype: torch.dtype
    step: Callable[[], None]
    warmup_s: float = 0.0


def engine_mode(cfg: RunConfig, device: torch.device, dtype: torch.dtype, compile_: bool) -> Mode:
    """The trainer's step: groups + fused Adam, autocast, clipping, compile when asked."""
    cfg = cfg.model_copy(update={"compile": compile_})
    torch.manual_seed(cfg.seed)
    raw = build_model(cfg, VOCAB).to(device)
    optimizer = build_optimizer(raw, cfg, device)
    model, note = maybe_compile(raw, cfg, device)
    x, y = batch(cfg, device)
    params = list(raw.parameters())

    def step() -> None:
        with autocast(device, dtype):
            _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        float(loss.detach())  # the trainer reads the loss every step

    label = f"engine {str(dtype).removeprefix('torch.')}{' compiled' if compile_ else ''}"
    if compile_ and note and "unavailable" in note:
        label += " (compile unavailable: eager)"
    return Mode(label, dtype, step)


def simple_mode(cfg: RunConfig, device: torch.device) -> Mode:
    """Plain fp32 eager PyTorch: default AdamW over every parameter, nothing else."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, VOCAB).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    x, y = batch(cfg, device)

    def step() -> None:
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        float(loss.detach())

    return Mode("simple fp32 eager loop", torch.float32, step)


def nanogpt_mode(cfg: RunConfig, device: torch.device) -> Mode:
    """nanoGPT's design and training step at the same shape, fp32 eager (bench/nanogpt_style)."""
    from bench.nanogpt_style import NanoGPTStyle

    torch.manual_seed(cfg.seed)
    model = NanoGPTStyle(VOCAB, cfg.seq_length, cfg.n_layer, cfg.n_head, cfg.n_embd).to(device)
    optimizer = model.optimizer(cfg.learning_rate)
    x, y = batch(cfg, device)
    params = list(model.parameters())

    def step() -> None:
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        float(loss.detach())

    return Mode("nanoGPT-style model.py, fp32 eager", torch.float32, step)


def batch(cfg: RunConfig, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    shape = (cfg.batch_size, cfg.seq_length)
    x = torch.randint(VOCAB, shape, generator=gen)
    y = torch.randint(VOCAB, shape, generator=gen)
    return x.to(device), y.to(device)


def bench_preset(name: str, cfg: RunConfig, args: argparse.Namespace) -> None:
    device = select_device(cfg.device)
    default_threads = torch.get_num_threads()
    bf16_ok = device.type == "cuda" or cfg.dtype in {"auto", "bfloat16"}
    dtypes = [torch.float32] + ([torch.bfloat16] if bf16_ok and not args.fp32_only else [])
    compiles = [False] if args.no_compile else [False, True]

    if device.type == "cpu":
        configure_cpu(cfg.num_threads)
    modes = [engine_mode(cfg, device, d, c) for d in dtypes for c in compiles]
    torch.set_num_threads(default_threads)
    modes.insert(0, simple_mode(cfg, device))
    if args.nanogpt and cfg.model == "gpt":
        modes.insert(1, nanogpt_mode(cfg, device))

    for mode in modes:  # warm up (compilation happens here)
        threads_for(mode, cfg, device, default_threads)
        start = time.perf_counter()
        for _ in range(args.warmup):
            mode.step()
        mode.warmup_s = time.perf_counter() - start
    times: dict[str, list[float]] = {m.name: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            threads_for(mode, cfg, device, default_threads)
            start = time.perf_counter()
            for _ in range(args.steps):
                mode.step()
            times[mode.name].append((time.perf_counter() - start) / args.steps)

    probe = build_model(cfg, VOCAB)
    flops_tok = model_flops_per_token(probe, cfg)
    n_params = sum(p.numel() for p in probe.parameters())
    configure_cpu(cfg.num_threads) if device.type == "cpu" else None
    peaks = {d: peak_flops(d, device) for d in {m.dtype for m in modes}}
    tokens = cfg.batch_size * cfg.seq_length
    peak_text = ", ".join(
        f"{str(d).removeprefix('torch.')} {p / 1e9:,.0f} GFLOP/s" for d, p in peaks.items()
    )
    print(
        f"\n{name}: {cfg.model}, {n_params / 1e6:.2f}M parameters, batch {cfg.batch_size} x "
        f"{cfg.seq_length}, {flops_tok / 1e6:.1f} MFLOP/token; measured matmul peak {peak_text}"
    )
    baseline = tokens / statistics.median(times[modes[0].name])
    print(f"  {'mode':44s} {'tokens/s':>10s} {'vs simple':>9s} {'MFU':>6s} {'warmup':>8s}")
    for mode in modes:
        rate = tokens / statistics.median(times[mode.name])
        mfu = rate * flops_tok / peaks[mode.dtype]
        print(
            f"  {mode.name:44s} {rate:10,.0f} {rate / baseline:8.2f}x {mfu:6.1%} "
            f"{mode.warmup_s:7.1f}s"
        )
    print(f"  {machine_line()}")


def threads_for(mode: Mode, cfg: RunConfig, device: torch.device, default: int) -> None:
    if device.type != "cpu":
        return
    if mode.name.startswith("simple"):
        torch.set_num_threads(default)
    else:
        configure_cpu(cfg.num_threads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", help="preset(s); default gpt-cpu, lstm-seed")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    # fp32 eager against nanoGPT's design at its small shape: --nanogpt --fp32-only
    # --no-compile --set n_embd=128 --set seq_length=64 --set position_encoding=learned
    # --set activation=gelu --set optimizer=adamw
    parser.add_argument(
        "--nanogpt",
        action="store_true",
        help="also time a GPT written as nanoGPT's model.py writes it (bench/nanogpt_style.py)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per mode")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (compiles)")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile modes")
    parser.add_argument("--fp32-only", action="store_true", help="skip bf16 modes")
    parser.add_argument("--quick", action="store_true", help="tiny GPT, eager, seconds")
    parser.add_argument(
        "--threads", type=int, default=0, help="threads for every mode, the simple loop too"
    )
    parser.add_argument(
        "--whole-process",
        nargs="*",
        type=int,
        metavar="STEPS",
        help="also time whole processes (start to final checkpoint): llmv0's defaults vs a "
        "plain fp32 eager loop, small GPT; default 300 and 3000 steps",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=1,
        help="--whole-process: run each pair this many times, in alternating order",
    )
    args = parser.parse_args(argv)
    print(reference_matmul_ms() + " (before)")
    try:
        return _run(args)
    finally:
        print(reference_matmul_ms() + " (after)")


def _run(args: argparse.Namespace) -> int:
    if args.whole_process is not None:
        from bench._whole_process import whole_process

        whole_process(args.whole_process or [300, 3000], args.overrides, args.pairs)
        print(f"  {machine_line()}")
        return 0
    if args.threads > 0:
        torch.set_num_threads(args.threads)  # the simple loop's "default"
        args.overrides = [*args.overrides, f"num_threads={args.threads}"]
    presets = args.preset or ["gpt-cpu", "lstm-seed"]
    overrides = list(args.overrides)
    if args.quick:
        presets = args.preset or ["gpt-cpu"]
        overrides = [*QUICK_OVERRIDES, *overrides]
        args.steps, args.rounds, args.warmup, args.no_compile = 2, 1, 1, True
    for name in presets:
        bench_preset(name, load_preset(name, overrides), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
