"""Whole-process timing for bench/train_speed.py: process start to final checkpoint.

``llmv0 train`` with its default choices (dtype auto, compile when it pays) against a plain
fp32 eager loop at the same shape, each a fresh Python process, for a short and a long run.
The plain loop samples random windows, steps a default AdamW and saves its state_dict at
the end; it scores nothing. llmv0 also evaluates the whole validation split at the end and
writes a resumable checkpoint, so it does strictly more work. The compile decision and the
compile cost come from the run's events.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The small GPT nanoGPT users compare with: 4 layers x 4 heads x 128, context 64, batch 32.
SHAPE = [
    "model=gpt", "n_layer=4", "n_head=4", "n_embd=128", "seq_length=64", "batch_size=32",
    "dropout=0", "dtype=auto", "compile=true", "num_threads=0", "sample_length=0",
    "checkpoint_interval_s=0",
]  # fmt: skip

PLAIN_LOOP = """
import sys, torch
from engine.config.schema import validate_config, apply_overrides, RunConfig
from engine.text.corpus import read_corpus, resolve_corpus
from engine.models import build_model
steps, out = int(sys.argv[1]), sys.argv[2]
cfg = validate_config(apply_overrides(RunConfig().model_dump(), sys.argv[3:]))
text = read_corpus(resolve_corpus(cfg.data_file))
stoi = {c: i for i, c in enumerate(sorted(set(text)))}
data = torch.tensor([stoi[c] for c in text])
torch.manual_seed(0)
model = build_model(cfg, len(stoi))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
T, B = cfg.seq_length, cfg.batch_size
for _ in range(steps):
    ix = torch.randint(len(data) - T - 1, (B,)).tolist()
    x = torch.stack([data[i : i + T] for i in ix])
    y = torch.stack([data[i + 1 : i + T + 1] for i in ix])
    _, loss = model(x, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
torch.save(model.state_dict(), out)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}


def llmv0_run(steps: int, runs: Path, extra: list[str]) -> tuple[float, list[str]]:
    """Seconds from process start to the final checkpoint, and the run's notices."""
    from engine.run.log import read_events

    run_id = f"w{steps}"
    command = [sys.executable, "-m", "tui.cli.main", "train", "--max-steps", str(steps), "--run-id",
               run_id, "--runs-dir", str(runs), "--no-samples",
               "--set", f"eval_interval={steps}"]  # fmt: skip
    for item in [*SHAPE, *extra]:
        command += ["--set", item]
    start = time.time()
    subprocess.run(command, cwd=ROOT, env=_env(), check=True, stdout=subprocess.DEVNULL)
    events = read_events(runs / run_id / "events.jsonl")
    saved = [e for e in events if e.type == "CheckpointSaved"]
    notes = [e.message for e in events if e.type == "RunNotice"]
    return saved[-1].time - start, notes


def plain_run(steps: int, out: Path, extra: list[str]) -> float:
    start = time.time()
    subprocess.run(
        [sys.executable, "-c", PLAIN_LOOP, str(steps), str(out), *SHAPE, "dtype=float32", *extra],
        cwd=ROOT, env=_env(), check=True,
    )  # fmt: skip
    return out.stat().st_mtime - start


def whole_process(step_counts: list[int], extra: list[str], pairs: int = 1) -> None:
    """Print the comparison for each run length.

    ``pairs`` > 1 repeats the two processes in alternating order (plain, llmv0, llmv0,
    plain, ...): this machine's speed drifts over minutes, and a fixed order hands the
    drift to whichever runs second. The ratio is then of the summed times.
    """
    print("\nwhole process, start to final checkpoint (GPT 4x4x128, context 64, batch 32):")
    print(f"  {'steps':>6s} {'plain fp32 eager':>17s} {'llmv0 defaults':>15s} {'ratio':>7s}")
    with tempfile.TemporaryDirectory() as tmp:
        for steps in step_counts:
            plains, ours = [], []
            for pair in range(pairs):
                runs = Path(tmp) / f"runs{steps}-{pair}"
                order = ("plain", "llmv0") if pair % 2 == 0 else ("llmv0", "plain")
                for which in order:
                    if which == "plain":
                        plains.append(plain_run(steps, Path(tmp) / f"plain{steps}.pt", extra))
                    else:
                        seconds, notes = llmv0_run(steps, runs, extra)
                        ours.append(seconds)
                print(
                    f"  {steps:6d} {plains[-1]:16.1f}s {ours[-1]:14.1f}s "
                    f"{plains[-1] / ours[-1]:6.2f}x" + (f"  ({' then '.join(order)})" * (pairs > 1))
                )
                for note in notes:
                    if note.startswith(("compile", "cpu threads")):
                        print(f"         {note}")
            if pairs > 1:
                print(
                    f"  {steps:6d} sums: {sum(plains):.1f}s vs {sum(ours):.1f}s, "
                    f"{sum(plains) / sum(ours):.2f}x over {pairs} alternating pairs"
                )
