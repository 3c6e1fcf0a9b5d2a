"""Attention and cells: planted heads and units are found where they were planted."""

from __future__ import annotations

import math

import pytest
import torch

from engine.analysis.attention import attention_maps, summarise_heads
from engine.analysis.cells import cell_states, rank_units, text_features
from engine.models.gpt import GPT
from engine.models.lstm import CharLSTM
from engine.text.tokenizer import CharTokenizer

TEXT = "the quick brown"  # shorter than a head (16): one-hot positions fit in it
HS = 16  # head size of the hand-built models: 2 heads of 16 in a 32-wide stream


def _model(position_encoding: str, tok: CharTokenizer) -> GPT:
    torch.manual_seed(0)
    return GPT(
        tok.vocab_size, block_size=32, n_layer=1, n_head=2, n_embd=2 * HS,
        position_encoding=position_encoding,
    )  # fmt: skip


@torch.no_grad()
def previous_char_learned(tok: CharTokenizer) -> GPT:
    """Head 1 copies the previous character's position: the stream is a one-hot position
    (learned positions, zero token embeddings) and q_i equals k_{i-1} (a shift), scaled."""
    model = _model("learned", tok)
    C = model.n_embd
    model.wte.weight.zero_()
    model.wpe.weight.copy_(torch.eye(C)[: model.block_size])
    qkv = torch.zeros(3 * C, C)
    for r in range(HS):
        qkv[HS + r, r + 1] = 2.0  # head 1's query reads position r + 1 ...
        qkv[C + HS + r, r] = 1.0  # ... and its key position r: a match one step back
    model.blocks[0].attn.qkv.weight.copy_(qkv)  # head 0: zero queries, attends evenly
    return model


@torch.no_grad()
def previous_char_rotary(tok: CharTokenizer) -> GPT:
    """Head 1's query is its key turned back by one position's rotation at every
    frequency: with rotary positions the score sum_f cos((j - i + 1) theta_f) peaks at j = i-1."""
    model = _model("rope", tok)
    C, half = model.n_embd, HS // 2
    model.wte.weight.zero_()
    model.wte.weight[:, 0] = 1.0  # every token the same: only positions can matter
    x = torch.nn.functional.layer_norm(model.wte.weight[0], (C,))
    read = x / x.square().sum()  # a row that maps the stream to 1
    theta = 10000.0 ** (-torch.arange(0, HS, 2).float() / HS)
    qkv = torch.zeros(3 * C, C)
    for f in range(half):
        qkv[HS + f] = 80.0 * math.cos(theta[f]) * read
        qkv[HS + half + f] = -80.0 * math.sin(theta[f]) * read
        qkv[C + HS + f] = read
    model.blocks[0].attn.qkv.weight.copy_(qkv)
    return model


@pytest.mark.parametrize("build", [previous_char_learned, previous_char_rotary])
def test_a_planted_previous_character_head_is_found_and_named(build) -> None:
    tok = CharTokenizer.from_text(TEXT)
    model = build(tok)
    maps = attention_maps(model, tok, TEXT)
    T = len(TEXT)
    assert maps.weights.shape == (1, 2, T, T)
    copy_head = maps.weights[0, 1]
    for i in range(1, T):
        assert copy_head[i].argmax() == i - 1 and copy_head[i, i - 1] > 0.9
    summary = {(s.layer, s.head): s for s in summarise_heads(maps)}
    assert summary[0, 1].name == "previous character" and summary[0, 1].share > 0.9
    assert summary[0, 0].name != "previous character"


@pytest.mark.parametrize("encoding", ["learned", "rope"])
def test_forward_with_attention_matches_forward(encoding: str) -> None:
    tok = CharTokenizer.from_text(TEXT)
    model = GPT(tok.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=16,
                position_encoding=encoding).eval()  # fmt: skip
    idx = torch.tensor([tok.encode(TEXT)])
    logits, weights = model.forward_with_attention(idx)
    assert torch.allclose(logits, model(idx)[0], atol=1e-5)
    for att in weights:
        assert torch.allclose(att.sum(-1), torch.ones(1, 2, len(TEXT)), atol=1e-5)
        assert float(att.triu(1).abs().max()) == 0.0  # causal: no weight on the future


def test_attention_refuses_an_lstm() -> None:
    tok = CharTokenizer.from_text(TEXT)
    with pytest.raises(ValueError, match="GPT view"):
        attention_maps(CharLSTM(tok.vocab_size, 4, 4), tok, TEXT)


QUOTED = 'He said "come here" and (so) she came.\nROMEO:\n"No," said he, "NEVER."\n'


def test_a_planted_quote_unit_is_ranked_first() -> None:
    features = text_features(QUOTED)
    torch.manual_seed(1)
    states = torch.randn(len(QUOTED), 40) * 0.5
    states[:, 23] = torch.tensor(features["inside quotes"]) * 0.8 - 0.4  # the quote cell
    ranked = rank_units(states, features)
    assert ranked[0].unit == 23 and ranked[0].feature == "inside quotes"
    assert ranked[0].correlation == pytest.approx(1.0, abs=1e-5)


def test_features_mark_what_they_say() -> None:
    f = text_features(QUOTED)
    at = QUOTED.index
    assert f["inside quotes"][at("come")] == 1.0 and f["inside quotes"][at("and")] == 0.0
    assert f["inside parentheses"][at("so")] == 1.0 and f["inside parentheses"][at("she")] == 0
    assert f["speaker name"][at("ROMEO")] == 1.0 and f["speaker name"][at("He")] == 0.0
    assert f["uppercase word"][at("NEVER")] == 1.0 and f["uppercase word"][at("He")] == 0.0
    assert f["after newline"][at("ROMEO")] == 1.0
    assert f["position in line"][at("said")] == 3.0


def test_forward_with_states_matches_forward() -> None:
    tok = CharTokenizer.from_text(QUOTED)
    torch.manual_seed(0)
    model = CharLSTM(tok.vocab_size, embedding_dim=8, hidden_dim=12, num_layers=2).eval()
    idx = torch.tensor([tok.encode(QUOTED)])
    logits, h, c = model.forward_with_states(idx)
    assert h.shape == c.shape == (1, len(QUOTED), 2, 12)
    assert torch.allclose(logits, model(idx)[0], atol=1e-5)
    cells = cell_states(model, tok, QUOTED)
    assert cells.h.shape == (len(QUOTED), 24) and cells.unit_name(13) == "L1 #1"
