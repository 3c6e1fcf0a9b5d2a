"""Sampling: seeded reproducibility, greedy temperature 0, top-k, top-p, streaming."""

from __future__ import annotations

import math

import pytest
import torch

from engine.config.schema import RunConfig
from engine.generate.decoding import SampleSettings
from engine.generate.sampling import filter_logits, generate, generate_stream, sample_next
from engine.models import build_model
from engine.text.tokenizer import CharTokenizer, UnknownCharactersError

TEXT = "To be, or not to be, that is the question:\n"


@pytest.fixture(params=["lstm", "gpt"])
def model_and_tok(request):
    tok = CharTokenizer.from_text(TEXT)
    cfg = RunConfig(
        model=request.param, embedding_dim=16, hidden_dim=32, n_layer=1, n_head=2, n_embd=16,
        seq_length=64,
    )  # fmt: skip
    torch.manual_seed(0)
    model = build_model(cfg, tok.vocab_size)
    model.eval()
    return model, tok


def test_same_seed_same_text(model_and_tok) -> None:
    model, tok = model_and_tok
    settings = SampleSettings(length=40, temperature=1.0, seed=5)
    assert generate(model, tok, "To be", settings) == generate(model, tok, "To be", settings)


def test_different_seed_different_text(model_and_tok) -> None:
    model, tok = model_and_tok
    a = generate(model, tok, "To be", SampleSettings(length=60, temperature=1.5, seed=1))
    b = generate(model, tok, "To be", SampleSettings(length=60, temperature=1.5, seed=2))
    assert a != b


def test_sampling_does_not_touch_the_global_rng(model_and_tok) -> None:
    model, tok = model_and_tok
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    generate(model, tok, "To", SampleSettings(length=20, temperature=1.0))
    assert torch.equal(torch.rand(3), expected)


def test_temperature_zero_is_argmax_step_by_step(model_and_tok) -> None:
    model, tok = model_and_tok
    prompt = "To be, or"
    out = generate(model, tok, prompt, SampleSettings(length=30, temperature=0.0))
    context = tok.encode(prompt)
    with torch.no_grad():
        for char in out:
            logits, _ = model(torch.tensor([context]))
            best = int(torch.argmax(logits[0, -1]))
            assert char == tok.decode([best])
            context.append(best)


def test_top_k_one_equals_greedy(model_and_tok) -> None:
    model, tok = model_and_tok
    greedy = generate(model, tok, "be", SampleSettings(length=30, temperature=0.0))
    top1 = generate(model, tok, "be", SampleSettings(length=30, temperature=1.3, top_k=1, seed=9))
    assert top1 == greedy


def test_generate_stream_yields_single_characters(model_and_tok) -> None:
    model, tok = model_and_tok
    stream = generate_stream(model, tok, "To", SampleSettings(length=25))
    pieces = list(stream)
    assert len(pieces) == 25
    assert all(isinstance(p, str) and len(p) == 1 and p in tok.stoi for p in pieces)
    assert list(generate_stream(model, tok, "", SampleSettings(length=5))) != []
    assert list(generate_stream(model, tok, "To", SampleSettings(length=0))) == []


def test_generate_stream_is_lazy(model_and_tok) -> None:
    model, tok = model_and_tok
    stream = generate_stream(model, tok, "To", SampleSettings(length=10_000))
    assert len(next(stream)) == 1
    stream.close()
    assert not model.training


def test_unknown_prompt_characters(model_and_tok) -> None:
    model, tok = model_and_tok
    with pytest.raises(UnknownCharactersError) as info:
        list(generate_stream(model, tok, "To be or Z@", SampleSettings(length=5)))
    assert info.value.chars == ["Z", "@"]


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    probs = torch.tensor([[0.05, 0.5, 0.25, 0.125, 0.075]])
    logits = probs.log()
    kept = lambda p: (filter_logits(logits, top_p=p) > -math.inf)[0].tolist()  # noqa: E731
    assert kept(0.4) == [False, True, False, False, False]
    assert kept(0.5 - 1e-3) == [False, True, False, False, False]
    assert kept(0.6) == [False, True, True, False, False]
    assert kept(0.8) == [False, True, True, True, False]
    assert kept(0.9) == [False, True, True, True, True]
    assert kept(1.0) == [True] * 5
    # Kept logits are untouched.
    filtered = filter_logits(logits, top_p=0.8)
    assert torch.equal(filtered[0, 1:4], logits[0, 1:4])


@pytest.mark.parametrize("top_p", [5e-304, 1e-45, 1e-30])
def test_a_top_p_below_float32s_range_keeps_the_most_likely_token(top_p: float) -> None:
    """5e-304 is a valid top_p (0 < p <= 1) but 0 in float32: it dropped every token, and
    sampling raised 'probability tensor contains inf or nan' (found by the CLI fuzz)."""
    logits = torch.tensor([[0.5, 2.0, -1.0], [3.0, 3.0, 0.0]])
    kept = filter_logits(logits, top_p=top_p)
    assert torch.isfinite(kept[0, 1]) and torch.isinf(kept[0, [0, 2]]).all()
    assert torch.isfinite(kept[1]).sum() == 1  # a tie keeps one of the two, never none
    token = sample_next(logits, temperature=1.0, top_p=top_p)
    assert token[0] == 1


def test_top_p_works_per_row() -> None:
    logits = torch.tensor([[3.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    kept = filter_logits(logits, top_p=0.5) > -math.inf
    assert kept.tolist() == [[True, False, False], [False, False, True]]


def test_top_k_filter() -> None:
    logits = torch.tensor([[1.0, 4.0, 3.0, 2.0]])
    kept = filter_logits(logits, top_k=2) > -math.inf
    assert kept.tolist() == [[False, True, True, False]]
    assert torch.equal(filter_logits(logits, top_k=10), logits)


def test_sample_next_respects_filters() -> None:
    logits = torch.tensor([[0.0, 5.0, 4.9, -1.0]])
    gen = torch.Generator().manual_seed(0)
    draws = {int(sample_next(logits, 1.0, top_k=2, generator=gen)) for _ in range(200)}
    assert draws == {1, 2}
    assert int(sample_next(logits, 0.0)) == 1


def test_settings_validation() -> None:
    with pytest.raises(ValueError) as info:
        SampleSettings(length=-1, temperature=-0.5, top_k=-2, top_p=0.0)
    message = str(info.value)
    for word in ("length", "temperature", "top_k", "top_p"):
        assert word in message
