"""Samplers beyond the seed: top-p, min-p, repetition penalty, greedy, beam, stop strings, probs."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from engine.config.schema import RunConfig
from engine.generate.beam import BeamSearch, beam_search, reorder_state
from engine.generate.decoding import (
    GeneratedChar,
    SampleSettings,
    TokenStep,
    apply_repetition_penalty,
    chars_of,
    pending_stop_prefix,
)
from engine.generate.sampling import (
    filter_logits,
    generate,
    generate_stream,
    generate_stream_with_probs,
    next_char_candidates,
    sample_next,
)
from engine.models import build_model
from engine.text.tokenizer import CharTokenizer

TEXT = "To be, or not to be, that is the question:\n"


class Bigram(nn.Module):
    """A hand-built model: the next token's logits depend on the last token only.

    ``table[i]`` holds probabilities after token i. The state is unused (None), so any
    beam reordering is trivially right. ``steps`` counts model steps.
    """

    def __init__(self, table: list[list[float]]) -> None:
        super().__init__()
        probs = torch.tensor(table, dtype=torch.float32)
        self.logits = nn.Parameter(probs.clamp_min(1e-12).log(), requires_grad=False)
        self.steps = 0

    def init_state(self, batch_size: int) -> None:
        return None

    def step(self, idx: torch.Tensor, state: None) -> tuple[torch.Tensor, None]:
        self.steps += 1
        return self.logits[idx[:, -1]], None

    def reorder_state(self, state: None, index: torch.Tensor) -> None:
        return None


# Tokens: 0 = S (start, also "\n"), 1 = a, 2 = b, 3 = c, 4 = d.
TRAP_TOK = CharTokenizer("\nabcd")
TRAP = Bigram(
    [
        [0.0, 0.6, 0.4, 0.0, 0.0],  # S -> a 0.6, b 0.4
        [0.0, 0.0, 0.34, 0.33, 0.33],  # a -> nothing likely: best 0.34
        [0.0, 0.0, 0.0, 0.9, 0.1],  # b -> c 0.9
        [0.2, 0.2, 0.2, 0.2, 0.2],
        [0.2, 0.2, 0.2, 0.2, 0.2],
    ]
)


@pytest.fixture(params=["lstm", "gpt"])
def model_and_tok(request):
    tok = CharTokenizer.from_text(TEXT)
    cfg = RunConfig(
        model=request.param, embedding_dim=16, hidden_dim=32, n_layer=1, n_head=2, n_embd=16,
        seq_length=16,
    )  # fmt: skip
    torch.manual_seed(0)
    model = build_model(cfg, tok.vocab_size)
    model.eval()
    return model, tok


# ----- filters -----


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-8, 8, allow_nan=False), min_size=2, max_size=12, unique=True),
    st.floats(0.01, 1.0),
)
def test_top_p_keeps_the_smallest_set_whose_mass_reaches_p(values: list[float], p: float) -> None:
    logits = torch.tensor([values], dtype=torch.float64)
    probs = torch.softmax(logits, dim=-1)[0]
    order = torch.argsort(probs, descending=True)
    assume(bool((probs[order][:-1] - probs[order][1:]).min() > 1e-6))  # no near-ties
    cumulative = torch.cumsum(probs[order], 0)
    # Stay away from ties between p and a partial sum, where rounding decides.
    assume(bool((cumulative - p).abs().min() > 1e-9))
    n_keep = int((cumulative < p).sum()) + 1 if p < 1.0 else len(values)
    expected = set(order[:n_keep].tolist())
    kept = set(torch.nonzero(filter_logits(logits, top_p=p)[0] > -math.inf).flatten().tolist())
    assert kept == expected
    assert float(probs[list(kept)].sum()) >= p - 1e-12  # it reaches p ...
    smaller = sorted(kept, key=lambda i: float(probs[i]))[1:]  # ... and no smaller set does
    assert float(probs[smaller].sum()) < p or p == 1.0


def test_min_p_keeps_tokens_above_a_fraction_of_the_top_probability() -> None:
    probs = torch.tensor([[0.5, 0.3, 0.12, 0.06, 0.02]])
    logits = probs.log()
    kept = lambda m: (filter_logits(logits, min_p=m) > -math.inf)[0].tolist()  # noqa: E731
    assert kept(0.0) == [True] * 5
    assert kept(0.1) == [True, True, True, True, False]  # threshold 0.05
    assert kept(0.2) == [True, True, True, False, False]  # threshold 0.10
    assert kept(0.7) == [True, False, False, False, False]  # threshold 0.35
    assert kept(1.0) == [True, False, False, False, False]
    filtered = filter_logits(logits, min_p=0.2)
    assert torch.equal(filtered[0, :3], logits[0, :3])  # kept logits untouched
    renormalised = torch.softmax(filtered, -1)[0, :3]
    assert torch.allclose(renormalised, probs[0, :3] / 0.92)


def test_min_p_adapts_to_confidence_and_applies_after_temperature() -> None:
    confident = torch.tensor([[0.9, 0.05, 0.05]]).log()
    unsure = torch.tensor([[0.4, 0.35, 0.25]]).log()
    assert (filter_logits(confident, min_p=0.1) > -math.inf).sum() == 1
    assert (filter_logits(unsure, min_p=0.1) > -math.inf).sum() == 3
    # At temperature 2 the confident distribution flattens: p = (0.9, .05, .05)^(1/2) / Z,
    # ratio sqrt(0.05/0.9) = 0.236 > 0.2, so everything survives min_p 0.2.
    gen = torch.Generator().manual_seed(0)
    draws = {int(sample_next(confident, 2.0, min_p=0.2, generator=gen)) for _ in range(300)}
    assert draws == {0, 1, 2}
    draws = {int(sample_next(confident, 1.0, min_p=0.2, generator=gen)) for _ in range(300)}
    assert draws == {0}


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5, 3.0]])
    seen = torch.tensor([[0, 1, 1]])  # repeats count once
    out = apply_repetition_penalty(logits, seen, 2.0)
    assert out.tolist() == [[1.0, -2.0, 0.5, 3.0]]
    assert torch.equal(apply_repetition_penalty(logits, seen, 1.0), logits)
    before, after = torch.softmax(logits, -1)[0], torch.softmax(out, -1)[0]
    assert after[0] < before[0] and after[1] < before[1]  # seen tokens less likely
    assert after[2] > before[2] and after[3] > before[3]  # unseen ones gain the mass
    assert logits.tolist() == [[2.0, -1.0, 0.5, 3.0]]  # input not modified


def test_repetition_penalty_breaks_a_greedy_loop() -> None:
    # After a, a is likeliest; with a strong penalty on the last 2 tokens greedy must move on.
    tok = CharTokenizer("\nab")
    loop = Bigram([[0.0, 0.9, 0.1], [0.0, 0.7, 0.3], [0.0, 0.7, 0.3]])
    plain = generate(loop, tok, "a", SampleSettings(length=6, strategy="greedy"))
    assert plain == "aaaaaa"
    shaped = SampleSettings(
        length=6, strategy="greedy", repetition_penalty=10.0, repetition_window=1
    )
    assert generate(loop, tok, "a", shaped) == "bababa"


def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(ValueError) as info:
        SampleSettings(strategy="nucleus", min_p=2.0, repetition_penalty=0.0, beams=0, stop=("",))
    message = str(info.value)
    for name in ("strategy", "min_p", "repetition_penalty", "beams", "stop"):
        assert name in message


# ----- greedy and beam -----


def test_beam_finds_the_best_sequence_that_greedy_misses() -> None:
    greedy = generate(TRAP, TRAP_TOK, "\n", SampleSettings(length=2, strategy="greedy"))
    assert greedy == "ab"  # 0.6 * 0.34 = 0.204
    results = beam_search(TRAP, TRAP_TOK, "\n", SampleSettings(length=2, strategy="beam", beams=2))
    assert results[0].text == "bc"  # 0.4 * 0.9 = 0.36
    assert results[0].logprob == pytest.approx(math.log(0.36), abs=1e-5)
    streamed = generate(TRAP, TRAP_TOK, "\n", SampleSettings(length=2, strategy="beam", beams=2))
    assert streamed == "bc"


def test_beam_width_one_is_greedy_on_the_trap() -> None:
    one = SampleSettings(length=2, strategy="beam", beams=1)
    assert generate(TRAP, TRAP_TOK, "\n", one) == "ab"


@pytest.mark.parametrize("stop", [(), (" ",)])
def test_beam_width_one_equals_greedy_on_real_models(model_and_tok, stop) -> None:
    model, tok = model_and_tok
    greedy = generate(model, tok, "To be", SampleSettings(length=40, strategy="greedy", stop=stop))
    beam = generate(
        model, tok, "To be", SampleSettings(length=40, strategy="beam", beams=1, stop=stop)
    )
    assert beam == greedy
    assert (
        generate(model, tok, "To be", SampleSettings(length=40, temperature=0.0, stop=stop))
        == greedy
    )


def test_beam_is_deterministic_and_its_stream_is_its_best_hypothesis(model_and_tok) -> None:
    model, tok = model_and_tok
    s = SampleSettings(length=30, strategy="beam", beams=4)
    streamed = generate(model, tok, "To", s)
    assert streamed == generate(model, tok, "To", s)
    results = beam_search(model, tok, "To", s)
    assert results[0].text == streamed and len(streamed) == 30
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    assert len(results) <= 4


def test_beam_streams_the_stable_prefix_before_the_search_ends() -> None:
    # A deterministic chain: every beam agrees on the first token at once.
    tok = CharTokenizer("\nab")
    chain = Bigram([[0.0, 0.99, 0.01], [0.0, 0.01, 0.99], [0.0, 0.99, 0.01]])
    stream = BeamSearch(chain, tok, [0], SampleSettings(length=50, strategy="beam", beams=3))
    first = next(stream.stream())
    assert first.token == 1
    assert chain.steps < 10  # yielded long before the 50 steps the search needs


def test_reorder_state_matches_stepping_each_row_alone(model_and_tok) -> None:
    model, tok = model_and_tok
    prompts = torch.tensor([tok.encode("To b"), tok.encode("or n")])
    with torch.no_grad():
        _, state = model.step(prompts, model.init_state(2))
        rows = [1, 0, 1]
        picked = reorder_state(model, state, rows)
        nxt = torch.tensor([[tok.stoi["e"]]] * 3)
        batched, _ = model.step(nxt, picked)
        for i, row in enumerate(rows):
            alone, _ = model.step(
                torch.cat([prompts[row : row + 1], nxt[:1]], dim=1), model.init_state(1)
            )
            assert torch.allclose(batched[i], alone[0], atol=1e-5)


# ----- stop strings, length, determinism -----


def _steps(tok: CharTokenizer, text: str) -> list[TokenStep]:
    return [TokenStep(i, 0.5) for i in tok.encode(text)]


def test_stop_string_ends_generation_and_is_not_yielded() -> None:
    tok = CharTokenizer.from_text("hello world\n:AB")
    chars = lambda text, **kw: "".join(  # noqa: E731
        c.char for c in chars_of(_steps(tok, text), tok, SampleSettings(length=100, **kw))
    )
    assert chars("hello\n\nworld", stop=("\n\n",)) == "hello"
    assert chars("hello\nworld\n\nAB", stop=("\n\n",)) == "hello\nworld"
    assert chars("hello\nworld", stop=("\n\n",)) == "hello\nworld"  # held back, then released
    assert chars("hello AB: world", stop=("AB:", "wor")) == "hello "
    assert chars("hello world", stop=("o w", "lo")) == "hel"  # the first to complete wins
    assert chars("hello world") == "hello world"


def test_pending_stop_prefix() -> None:
    assert pending_stop_prefix("hello\n", ["\n\n"]) == 1
    assert pending_stop_prefix("ROMEO", ["JULIET:", "O:"]) == 1
    assert pending_stop_prefix("abc", ["xyz"]) == 0


@pytest.mark.parametrize("strategy", ["sample", "greedy", "beam"])
def test_every_strategy_stops_at_a_stop_string(model_and_tok, strategy: str) -> None:
    model, tok = model_and_tok
    free = SampleSettings(length=60, strategy=strategy, temperature=1.5, beams=3, seed=5)
    text = generate(model, tok, "To", free)
    # A stop string this strategy really produces, so a broken stop shows in the output.
    stop = text[20:22]
    assert len(text) == 60 and stop in text
    out = generate(model, tok, "To", SampleSettings(**{**free.__dict__, "stop": (stop,)}))
    assert stop not in out
    if strategy != "beam":  # one path: the stopped text is the free text cut at the stop
        assert out == text[: text.index(stop)]
    # (A beam search may instead prefer a hypothesis that never reaches the stop string.)


def test_same_seed_same_text_for_every_setting(model_and_tok) -> None:
    model, tok = model_and_tok
    s = SampleSettings(length=40, temperature=1.2, top_k=8, top_p=0.9, min_p=0.05,
                       repetition_penalty=1.3, seed=3)  # fmt: skip
    assert generate(model, tok, "To", s) == generate(model, tok, "To", s)
    other = SampleSettings(**{**s.__dict__, "seed": 4})
    assert generate(model, tok, "To", s) != generate(model, tok, "To", other)


# ----- what the model knows -----


def test_stream_reports_the_models_probability_of_each_character(model_and_tok) -> None:
    model, tok = model_and_tok
    s = SampleSettings(length=12, temperature=1.0, top_k=3, seed=1)
    items = list(generate_stream_with_probs(model, tok, "To be", s, candidates=5))
    assert "".join(i.char for i in items) == generate(model, tok, "To be", s)
    context = "To be"
    with torch.no_grad():
        for item in items:
            logits, _ = model(torch.tensor([tok.encode(context)]))
            probs = torch.softmax(logits[0, -1], -1)  # temperature 1, unfiltered
            assert item.prob == pytest.approx(float(probs[tok.stoi[item.char]]), abs=1e-5)
            top = torch.topk(probs, 5)
            assert [c for c, _ in item.candidates] == [tok.chars[int(i)] for i in top.indices]
            assert [p for _, p in item.candidates] == pytest.approx(top.values.tolist(), abs=1e-5)
            context += item.char


def test_next_char_candidates_sum_to_one_over_all_characters(model_and_tok) -> None:
    model, tok = model_and_tok
    every = next_char_candidates(model, tok, "To be", k=tok.vocab_size)
    assert sum(p for _, p in every) == pytest.approx(1.0)
    top5 = next_char_candidates(model, tok, "To be")
    assert len(top5) == 5 and top5 == every[:5]
    greedy = generate(model, tok, "To be", SampleSettings(length=1, strategy="greedy"))
    assert top5[0][0] == greedy


def test_generate_stream_keeps_its_contract(model_and_tok) -> None:
    model, tok = model_and_tok
    pieces = list(generate_stream(model, tok, "To", SampleSettings(length=25, min_p=0.1)))
    assert len(pieces) == 25 and all(len(p) == 1 for p in pieces)
    assert isinstance(
        next(generate_stream_with_probs(model, tok, "To", SampleSettings())), GeneratedChar
    )


def _reference_cut(text: str, stops: list[str], length: int) -> str:
    ends = [(text.find(s) + len(s), i) for i, s in enumerate(stops) if s in text]
    if ends:
        end, i = min(ends)
        if end <= length:
            return text[: end - len(stops[i])]
    return text[:length]


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="ab\n", max_size=40),
    st.lists(st.text(alphabet="ab\n", min_size=1, max_size=4), max_size=3),
    st.integers(0, 45),
)
def test_stop_strings_and_length_match_a_reference(text: str, stops: list[str], n: int) -> None:
    tok = CharTokenizer("ab\n")
    got = "".join(
        c.char for c in chars_of(_steps(tok, text), tok, SampleSettings(length=n, stop=stops))
    )
    assert got == _reference_cut(text, stops, n)
