"""Training tokens/s with 0, 1 and 2 competing CPU-bound processes, per thread setting.

Each cell is a fresh ``llmv0 train`` on a preset with ``num_threads`` 0 (measured by
engine.runtime.threads) or a fixed count, while N processes spin on the CPU. tokens/s runs from
the first to the last step (the default's thread probe counts). The last column is the default
as a share of the best fixed count (target >= 90%); a reference matmul shows the machine load.

    python bench/contention.py [--preset gpt-cpu] [--steps 200] [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import machine_line, reference_matmul_ms
from engine.run.log import read_events
from engine.runtime.threads import usable_cores

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["model=lstm", "hidden_dim=32", "embedding_dim=16", "seq_length=32", "batch_size=8"]
SPIN = "while True: pass"


def train_tokens_per_s(
    preset: str, threads: int, steps: int, sets: list[str], runs: Path, env: dict[str, str]
) -> float:
    """One training process; tokens/s between its first and last step."""
    run_id = f"t{threads}-{time.monotonic_ns()}"
    overrides = [
        f"num_threads={threads}", "sample_length=0", "eval_interval=1000000",
        "eval_max_windows=8", "checkpoint_interval_s=0", "time_budget_s=0", *sets,
    ]  # fmt: skip
    command = [sys.executable, "-m", "tui.cli.main", "train", "--config", preset, "--max-steps",
               str(steps), "--run-id", run_id, "--runs-dir", str(runs), "--no-samples"]  # fmt: skip
    for item in overrides:
        command += ["--set", item]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100", **env}
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    events = read_events(runs / run_id / "events.jsonl")
    started = next(e for e in events if e.type == "RunStarted")
    tokens_per_step = started.config["batch_size"] * started.config["seq_length"]
    step_events = [e for e in events if e.type == "StepCompleted"]
    first, last = step_events[1], step_events[-1]  # step 1 may compile
    return tokens_per_step * (last.step - first.step) / (last.elapsed_s - first.elapsed_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="lstm-seed")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--competitors", default="0,1,2", help="comma-separated counts")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    parser.add_argument(
        "--omp-passive",
        action="store_true",
        help="train with OMP_WAIT_POLICY=PASSIVE (idle OpenMP threads sleep, not spin)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny LSTM, 100 steps, 0 and 1")
    args = parser.parse_args(argv)
    sets = list(args.overrides)
    counts = [int(c) for c in args.competitors.split(",")]
    if args.quick:
        sets, args.steps, counts = [*QUICK, *sets], 100, [0, 1]
    fixed = list(range(1, usable_cores() + 1))
    env = {"OMP_WAIT_POLICY": "PASSIVE"} if args.omp_passive else {}
    print(machine_line())
    print(reference_matmul_ms() + " (before)")
    header = ["competitors", "default", *[f"{n} thr" for n in fixed], "default/best"]
    print("  ".join(f"{h:>12s}" for h in header))
    with tempfile.TemporaryDirectory() as tmp:
        for count in counts:
            spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(count)]
            try:
                runs = Path(tmp)
                default = train_tokens_per_s(args.preset, 0, args.steps, sets, runs, env)
                rates = [
                    train_tokens_per_s(args.preset, n, args.steps, sets, runs, env) for n in fixed
                ]
            finally:
                for proc in spinners:
                    proc.kill()
                    proc.wait()
            share = default / max(rates)
            flag = "" if share >= 0.9 else "  < 90%"
            cells = [f"{count:>12d}", f"{default:>12,.0f}", *[f"{r:>12,.0f}" for r in rates]]
            print("  ".join(cells) + f"  {share:>11.0%}{flag}")
    print(reference_matmul_ms() + " (after)")
    print(machine_line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
