"""Texts to inspect: a passage of a run's validation split, by position or at random."""

from __future__ import annotations

import random
from pathlib import Path

import torch

from engine.config.schema import RunConfig
from engine.text.corpus import (
    SHAKESPEARE_NAME,
    default_data_dir,
    read_corpus,
    resolve_corpus,
    split_tokens,
)
from engine.text.tokenizer import Tokenizer


def validation_text(
    cfg: RunConfig, tokenizer: Tokenizer, data_dir: Path | None = None, download: bool = True
) -> str:
    """The validation split of the run's corpus, as text.

    With ``download=False`` a missing Tiny Shakespeare raises CorpusError instead of
    fetching it (the dashboard never downloads behind the user's back).
    """
    if not download and cfg.data_file == SHAKESPEARE_NAME:
        cached = (data_dir or default_data_dir()) / SHAKESPEARE_NAME
        if not cached.exists():
            from engine.text.corpus import CorpusError

            raise CorpusError(f"The corpus is not downloaded yet ({cached}).")
    text = read_corpus(resolve_corpus(cfg.data_file, data_dir))
    tokens = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    splits = split_tokens(tokens, cfg.val_fraction, cfg.seq_length)
    return tokenizer.decode(splits.val.tolist())


def passage(text: str, length: int, position: int | None = None, seed: int | None = None) -> str:
    """``length`` characters of ``text`` from ``position``, or from a random line start when
    ``position`` is None (a passage that starts mid-word reads badly)."""
    if len(text) <= length:
        return text
    if position is None:
        rng = random.Random(seed)
        position = rng.randrange(0, len(text) - length)
        newline = text.find("\n", position, position + length // 2)
        position = newline + 1 if newline >= 0 else position
    position = max(0, min(position, len(text) - length))
    return text[position : position + length]
