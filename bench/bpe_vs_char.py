"""Char vs BPE at the same training budget: bits per character on Tiny Shakespeare.

Each tokenizer trains the same model through the real Trainer for the same optimizer steps and
batch of windows; BPE runs twice, with the char run's context in tokens and with about as many
characters per window. Every model is scored on the same tail of the corpus (``--tail``, inside
every validation split) as total bits over its characters, so the figures compare directly.

    python bench/bpe_vs_char.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import machine_line, reference_matmul_ms
from engine.analysis.evaluate import evaluate
from engine.config.schema import RunConfig
from engine.events import Event, RunFailed, RunStarted
from engine.text.corpus import read_corpus, resolve_corpus
from engine.train.trainer import Trainer


def run_one(cfg: RunConfig, runs_dir: Path, tail_text: str) -> dict[str, float | str]:
    started: dict[str, RunStarted] = {}

    def sink(event: Event) -> None:
        if isinstance(event, RunStarted):
            started["event"] = event

    t0 = time.perf_counter()
    trainer = Trainer(cfg, runs_dir=runs_dir)
    end = trainer.run(sink)
    seconds = time.perf_counter() - t0
    if isinstance(end, RunFailed):
        raise SystemExit(f"run failed: {end.error}")
    snap = trainer.snapshot()
    assert snap is not None
    model, tokenizer = snap
    tokens = tokenizer.encode(tail_text)
    import torch

    metrics = evaluate(
        model,
        torch.tensor(tokens, dtype=torch.long),
        cfg.seq_length,
        char_lengths=tokenizer.char_lengths(),
    )
    info = started["event"]
    chars_per_token = len(tail_text) / len(tokens)
    return {
        "tokenizer": cfg.tokenizer,
        "vocab": info.vocab_size,
        "context": f"{cfg.seq_length} tok (~{cfg.seq_length * chars_per_token:.0f} chars)",
        "chars_per_token": chars_per_token,
        "params": info.n_params,
        "chars_seen": cfg.max_steps * cfg.batch_size * cfg.seq_length * chars_per_token,
        "seconds": seconds,
        "bits_per_char": metrics.bits_per_char,
        "loss_per_token": metrics.loss,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=250, help="optimizer steps per run")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--n-layer", type=int, default=2, help="GPT blocks")
    parser.add_argument("--model", default="gpt", choices=["gpt", "lstm"])
    parser.add_argument("--seq-length", type=int, default=64, help="char run's context")
    parser.add_argument("--vocab", type=int, default=1024, help="BPE vocabulary size")
    parser.add_argument("--tail", type=float, default=0.05, help="scored fraction of the corpus")
    parser.add_argument("--quick", action="store_true", help="tiny model, a few steps")
    parser.add_argument("--only", choices=["char", "bpe", "bpe-short"], action="append")
    args = parser.parse_args(argv)

    text = read_corpus(resolve_corpus("shakespeare.txt"))
    tail_text = text[len(text) - int(len(text) * args.tail) :]
    base = dict(
        data_file="shakespeare.txt", model=args.model, seq_length=args.seq_length,
        batch_size=args.batch_size, n_layer=args.n_layer, n_head=4, n_embd=128,
        embedding_dim=128, hidden_dim=256,
        optimizer="adamw", learning_rate=2e-3, weight_decay=0.1, lr_schedule="cosine",
        warmup_steps=max(1, args.steps // 10), max_steps=args.steps, eval_interval=args.steps,
        eval_max_windows=50, sample_length=0, device="cpu", compile=False, seed=1337,
    )  # fmt: skip
    if args.quick:
        base.update(n_layer=1, n_embd=32, embedding_dim=32, hidden_dim=32, batch_size=8)
    short = max(8, round(args.seq_length / 2.4))
    plans = {
        "char": {"tokenizer": "char"},
        "bpe": {"tokenizer": "bpe", "bpe_vocab_size": args.vocab},
        "bpe-short": {"tokenizer": "bpe", "bpe_vocab_size": args.vocab, "seq_length": short},
    }
    print(machine_line(), flush=True)
    print(f"{reference_matmul_ms()} (before)", flush=True)
    # Training the tokenizer itself (a speed figure: tests check what it builds, not its time).
    from engine.text.bpe import train_bpe

    t0 = time.perf_counter()
    train_bpe(text, args.vocab)
    print(f"BPE training, {len(text):,} characters to {args.vocab} tokens: "
          f"{time.perf_counter() - t0:.2f} s", flush=True)  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or list(plans):
            cfg = RunConfig(**{**base, **plans[name]})
            row = run_one(cfg, Path(tmp), tail_text)
            rows.append(row)
            print(
                f"{name}: {row['bits_per_char']:.4f} bits/char, {row['seconds']:.0f} s, "
                f"{row['chars_per_token']:.2f} chars/token",
                flush=True,
            )
    print(f"{reference_matmul_ms()} (after)", flush=True)
    print(f"\n{args.model}, {args.steps} steps x batch {base['batch_size']}; scored on the last "
          f"{len(tail_text):,} characters; {machine_line()}\n")  # fmt: skip
    print("| tokenizer | vocab | context | params | chars seen | train time | bits/char |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['tokenizer']} | {r['vocab']} | {r['context']} | {r['params']:,} | "
            f"{r['chars_seen'] / 1e6:.2f} M | {r['seconds']:.0f} s | {r['bits_per_char']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
