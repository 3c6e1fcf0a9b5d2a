"""Deterministic models and a run folder for the Inspect screen's tests and snapshots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from engine.config.schema import RunConfig
from engine.models.gpt import GPT
from engine.models.lstm import CharLSTM
from engine.text.tokenizer import CharTokenizer
from tui.dashboard.app import Dashboard

CORPUS = (
    'ROMEO:\nBut soft, what light through yonder window breaks? "It is the east."\n'
    "JULIET:\nO Romeo, Romeo (wherefore) art thou Romeo?\n"
) * 12


def inspect_app(tmp_path: Path, model_kind: str, fake_factory) -> Dashboard:
    """A dashboard that opened a run: a seeded tiny model, a corpus and a timeline file."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    tok = CharTokenizer.from_text(CORPUS)
    torch.manual_seed(0)
    if model_kind == "gpt":
        model = GPT(tok.vocab_size, block_size=64, n_layer=2, n_head=2, n_embd=16)
    else:
        model = CharLSTM(tok.vocab_size, embedding_dim=8, hidden_dim=12)
    model.eval()
    run = tmp_path / "run"
    run.mkdir()
    passage = list(CORPUS[:41])
    with (run / "timeline.jsonl").open("w") as fh:
        for n, step in enumerate((100, 200, 300, 400)):
            bits = [4.0 * math.exp(-n) + (i % 7) * 0.5 / (n + 1) for i in range(40)]
            fh.write(json.dumps({"step": step, "pieces": passage, "bits": bits}) + "\n")
    cfg = RunConfig(model=model_kind, data_file=str(corpus), seq_length=64, val_fraction=0.4)
    return Dashboard(
        cfg, fake_factory, run=str(run), loaded=(model, tok, f"checkpoint {model_kind}"),
        runs_dir=tmp_path,
    )  # fmt: skip
