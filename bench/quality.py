"""Train a preset for a wall-clock budget through the real Trainer; report full validation loss.

The whole validation split is scored in non-overlapping windows of the model's context, each
from an empty context. The budget counts everything the user waits for (setup, compilation,
evaluations); a run that reaches it before max_steps is stopped, its schedule cut short.

    python bench/quality.py --preset gpt-cpu --budget 300   # or --time 300: the schedule fits
    python bench/quality.py --quick                         # a tiny model for 15 s
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import QUICK_OVERRIDES, load_preset, machine_line, reference_matmul_ms
from engine.analysis.evaluate import evaluate
from engine.control import Control
from engine.events import EvalCompleted, Event, RunStarted, StepCompleted
from engine.models import count_parameters
from engine.run.checkpoint import unwrap
from engine.runtime.device import configure_cpu, select_device, select_dtype
from engine.train.trainer import Trainer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="gpt-cpu", help="preset name or config path")
    parser.add_argument(
        "--budget", type=float, default=300.0, help="wall-clock seconds (0 = run all steps)"
    )
    parser.add_argument(
        "--time",
        type=float,
        default=0.0,
        help="train with time_budget_s = this (the schedule completes; --budget is ignored)",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    parser.add_argument("--quick", action="store_true", help="tiny model, 15 s, smoke test")
    parser.add_argument("--runs-dir", type=Path, default=None, help="keep the run folder here")
    args = parser.parse_args(argv)

    overrides = list(args.overrides)
    budget = args.budget
    if args.quick:
        overrides = [*QUICK_OVERRIDES, "max_steps=60", "eval_interval=30", *overrides]
        budget = min(budget, 15.0)
    if args.time > 0:
        overrides = [*overrides, f"time_budget_s={args.time}", "max_steps=0"]
    cfg = load_preset(args.preset, overrides)
    if cfg.time_budget_s > 0:  # the trainer keeps its own deadline, final evaluation included
        budget = 0.0
    device = select_device(cfg.device)
    if device.type == "cpu":
        configure_cpu(cfg.num_threads)

    print(reference_matmul_ms() + " (before)")
    control = Control()
    started = time.perf_counter()
    started_wall = time.time()
    cpu_started = time.process_time()
    info: dict[str, object] = {"evals": []}

    def sink(event: Event) -> None:
        if isinstance(event, RunStarted):
            info["started"] = event
            notes = "; ".join(event.notes)
            print(
                f"run {event.run_id}: {event.n_params:,} parameters on {event.device}, "
                f"{event.dtype}, {event.total_steps} steps; notes: {notes}"
            )
        elif isinstance(event, StepCompleted):
            info["last_step"] = event
            if budget > 0 and time.perf_counter() - started > budget:
                control.stop()
            if event.step % 50 == 0:
                print(
                    f"  step {event.step:5d}  loss {event.loss:.4f}  lr {event.lr:.2e}  "
                    f"{event.tokens_per_s:,.0f} tok/s  {event.elapsed_s:6.1f}s",
                    flush=True,
                )
        elif isinstance(event, EvalCompleted):
            info["evals"].append(event)  # type: ignore[union-attr]
            print(
                f"  eval step {event.step}: train {event.train_loss:.4f} "
                f"val {event.val_loss:.4f}  {event.time - started_wall:.0f}s",
                flush=True,
            )

    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = args.runs_dir or Path(tmp)
        trainer = Trainer(cfg, runs_dir=runs_dir)
        final = trainer.run(sink, control)
        wall = time.perf_counter() - started
        model = unwrap(trainer._raw_model)
        dtype = select_dtype(cfg, device)
        metrics = evaluate(model, trainer.evaluator.val_tokens, cfg.seq_length, dtype=dtype)
    last = info.get("last_step")
    steps = last.step if isinstance(last, StepCompleted) else 0
    reason = getattr(final, "reason", "")
    print(
        f"\n{args.preset}: {final.type} ({reason}) after {steps} steps, {wall:.0f} s wall "
        f"(budget {budget or cfg.time_budget_s:.0f} s"
        f"{', time_budget_s' if cfg.time_budget_s else ''}), "
        f"{count_parameters(model):,} parameters"
    )
    print(
        f"  full validation split: loss {metrics.loss:.4f} nats/char, perplexity "
        f"{metrics.perplexity:.3f}, {metrics.bits_per_char:.4f} bits/char "
        f"({metrics.windows} windows of {cfg.seq_length}, {metrics.tokens:,} chars)"
    )
    if isinstance(last, StepCompleted):
        print(f"  last smoothed speed {last.tokens_per_s:,.0f} tok/s")
    # CPU seconds of every thread of this process: on a machine shared with other jobs the
    # wall time stretches, this much less (it still counts threads waiting for each other).
    cpu_s = time.process_time() - cpu_started
    print(
        f"  process CPU time {cpu_s:.0f} s ({cpu_s / max(wall, 1e-9):.2f} cores busy on "
        f"average; {torch.get_num_threads()} threads)"
    )
    print(f"  {machine_line()}")
    print(f"  {reference_matmul_ms()} (after)")
    return 0 if math.isfinite(metrics.loss) else 1


if __name__ == "__main__":
    raise SystemExit(main())
