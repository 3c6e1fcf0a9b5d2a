"""The embeddings view's words: a warning on a noise table, none on a structured one, and
"near" lists by cosine in the full space (planted tables, no training)."""

from __future__ import annotations

import torch

from engine.analysis.embeddings import table_map
from engine.models.gpt import GPT
from engine.models.lstm import CharLSTM
from engine.text.tokenizer import CharTokenizer
from tui.shared import inspect_render_models as rm

WARNING = "warning: no better than a random table"


def rays() -> tuple[CharTokenizer, torch.Tensor]:
    """Vowels along e1 and consonants along e2 at radii 1..5, as in tests/engine's
    test_analysis_embeddings: by cosine a vowel's neighbours are vowels; on the map 'a' (1, 0)
    is nearer to 'b' (0, 1) than to 'i' (3, 0)."""
    tok = CharTokenizer.from_text("aeioubcdfg")
    table = torch.zeros(tok.vocab_size, 16)
    for axis, group in enumerate(("aeiou", "bcdfg")):
        for radius, ch in enumerate(group, start=1):
            table[tok.encode(ch)[0], axis] = float(radius)
    return tok, table


def noise_map():
    tok = CharTokenizer.from_text("".join(chr(c) for c in range(33, 98)))  # 65 characters
    noise = torch.randn(tok.vocab_size, 64, generator=torch.Generator().manual_seed(1234))
    return table_map(noise, tok)


def test_a_planted_noise_table_gets_the_warning_and_the_random_figures() -> None:
    emb = noise_map()
    legend = rm.embedding_legend(emb, color=False).plain
    assert WARNING in legend
    base = emb.baseline
    figures = f"{base.mean[0]:.1%} / {base.mean[1]:.1%}"
    assert f"a random table of this shape would explain {figures}" in legend


def test_a_structured_table_gets_no_warning_and_cosine_neighbours() -> None:
    tok, table = rays()
    emb = table_map(table, tok)
    legend = rm.embedding_legend(emb, color=False).plain
    assert WARNING not in legend
    assert "PC1 84.6% of the variance" in legend
    assert "PC2 (up-down) is no better than random" in legend  # the radius axis, see rays()
    # by the 2-D map 'b' is second nearest to 'a'; by cosine all four are vowels
    near = rm.nearest_text(emb, "a", k=4).plain
    assert near.startswith("near 'a': ") and set(near.split(": ")[1].split()) == set("eiou")


def test_lstm_shows_its_output_matrix_and_gpt_says_tied() -> None:
    from engine.analysis.embeddings import embedding_map

    tok = CharTokenizer.from_text("abcdefgh ,.\n")
    lstm = embedding_map(CharLSTM(tok.vocab_size, embedding_dim=6, hidden_dim=10), tok)
    assert rm.embedding_legend(lstm, color=False).plain.startswith("input embedding: PC1")
    out = rm.output_text(lstm, ("a", "."), color=False).plain
    assert out.startswith("output matrix") and "a random table of this shape" in out
    assert "near 'a': " in out and "near '.': " in out
    gpt = embedding_map(GPT(tok.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8), tok)
    assert "tied: this table is also the output matrix" in rm.embedding_legend(gpt, color=False)
    assert rm.output_text(gpt, ("a",), color=False).plain == ""
