"""Worker for test_ddp.py: trains one rank and records a digest of its parameters per step.

Run alone (one process) or under ``torchrun``; writes ``<out>.rank<R>`` as JSON lines.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import torch

from engine.config.schema import validate_config
from engine.events import EvalCompleted, Event, RunFinished, StepCompleted
from engine.train.trainer import Trainer


def main() -> None:
    config_path, out_prefix, runs_dir = sys.argv[1:4]
    resume = len(sys.argv) > 4 and sys.argv[4] == "--resume"
    # Each rank proposes its own run id; the trainer must settle on rank 0's.
    per_rank_id = len(sys.argv) > 4 and sys.argv[4] == "--run-id-per-rank"
    with open(config_path, encoding="utf-8") as fh:
        cfg = validate_config(json.load(fh))
    rank = os.environ.get("RANK", "0")
    if resume:
        trainer = Trainer(cfg, runs_dir=runs_dir, resume="ddp")
    else:
        run_id = f"rank{os.environ.get('RANK', '0')}" if per_rank_id else "ddp"
        trainer = Trainer(cfg, runs_dir=runs_dir, run_id=run_id)
    with open(f"{out_prefix}.rank{rank}", "w", encoding="utf-8") as out:

        def sink(event: Event) -> None:
            if isinstance(event, StepCompleted):
                flat = torch.cat([p.detach().flatten() for p in trainer._raw_model.parameters()])
                digest = hashlib.sha256(flat.numpy().tobytes()).hexdigest()
                record = {"step": event.step, "loss": event.loss, "params": digest}
            elif isinstance(event, EvalCompleted):
                record = {"eval": event.step, "val_loss": event.val_loss}
            elif isinstance(event, RunFinished):
                record = {"finished": event.reason, "step": event.step, "run_id": trainer.run_id}
            else:
                return
            out.write(json.dumps(record) + "\n")

        trainer.run(sink)
    if trainer.dist.enabled:
        # As `llmv0 train --nproc` does (tui/cli/train.py, _exit_rank): skip an interpreter
        # teardown that gloo's threads can abort under load, once everything is written.
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
