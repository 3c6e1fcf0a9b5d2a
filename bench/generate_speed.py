"""Generation speed: characters/s for 1000 characters, with and without incremental state.

*With state* is the engine's path (``generate_stream``: one ``model.step`` per character over
the KV cache or the carried LSTM state); *without* recomputes the model over the context for
every character, as nanoGPT's ``generate``. Weights are random: speed does not depend on them.

    python bench/generate_speed.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import QUICK_OVERRIDES, load_preset, machine_line
from engine.config.schema import RunConfig
from engine.generate.decoding import SampleSettings
from engine.generate.sampling import generate_stream, sample_next
from engine.models import build_model, count_parameters
from engine.runtime.device import configure_cpu
from engine.text.tokenizer import CharTokenizer

ALPHABET = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # 65 chars
PROMPT = "ROMEO:"


@torch.no_grad()
def recompute_generate(model: torch.nn.Module, ids: list[int], n: int, seed: int) -> list[int]:
    """No incremental state: one full forward over the context for every new character."""
    gen = torch.Generator().manual_seed(seed)
    window = getattr(model, "block_size", None)
    ids = list(ids)
    for _ in range(n):
        context = ids[-window:] if window else ids
        logits, _ = model(torch.tensor([context]))
        ids.append(int(sample_next(logits[:, -1].float(), 0.8, generator=gen)))
    return ids


def bench_preset(name: str, cfg: RunConfig, length: int) -> None:
    tokenizer = CharTokenizer(ALPHABET)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, tokenizer.vocab_size).eval()
    settings = SampleSettings(length=length, temperature=0.8, seed=cfg.seed)

    start = time.perf_counter()
    text = "".join(generate_stream(model, tokenizer, PROMPT, settings))
    cached_s = time.perf_counter() - start

    start = time.perf_counter()
    recompute_generate(model, tokenizer.encode(PROMPT), length, cfg.seed)
    full_s = time.perf_counter() - start

    what = "KV cache" if cfg.model == "gpt" else "carried LSTM state"
    context = f"block_size {cfg.seq_length}" if cfg.model == "gpt" else "whole history"
    print(f"\n{name}: {cfg.model}, {count_parameters(model) / 1e6:.2f}M parameters, fp32")
    print(f"  with {what:30s} {len(text) / cached_s:9,.0f} chars/s  ({cached_s:.2f} s)")
    print(
        f"  recomputing the context ({context}) {length / full_s:9,.0f} chars/s  ({full_s:.2f} s)"
    )
    print(f"  speedup {full_s / cached_s:.1f}x for {length} characters")
    print(f"  {machine_line()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", help="preset(s); default gpt-cpu, lstm-seed")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    parser.add_argument("--length", type=int, default=1000, help="characters to generate")
    parser.add_argument("--quick", action="store_true", help="tiny GPT, 100 characters")
    args = parser.parse_args(argv)
    presets = args.preset or ["gpt-cpu", "lstm-seed"]
    overrides = list(args.overrides)
    length = args.length
    if args.quick:
        presets = args.preset or ["gpt-cpu"]
        overrides = [*QUICK_OVERRIDES, *overrides]
        length = min(length, 100)
    for name in presets:
        cfg = load_preset(name, overrides)
        configure_cpu(cfg.num_threads)
        bench_preset(name, cfg, length)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
