"""Streaming generation: ``generate_stream`` yields one character at a time.

Strategies (``SampleSettings.strategy``): ``"sample"`` (repetition penalty, temperature, then
top-k, top-p and min-p; temperature 0 is argmax, as in nanochat), ``"greedy"``, and ``"beam"``
(engine/generate/beam.py, streaming the prefix no hypothesis can change). Output is a pure
function of the model, prompt, settings and a seeded ``torch.Generator``; each new token costs
one model step. ``length`` and ``stop`` count characters whatever the tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from engine.generate.beam import BeamSearch
from engine.generate.decoding import (
    Candidates,
    GeneratedChar,
    SampleSettings,
    TokenStep,
    apply_repetition_penalty,
    chars_of,
    prompt_ids,
    recent,
)
from engine.models import LanguageModel
from engine.text.tokenizer import Tokenizer

# ----- logits processors: pure functions of (B, V) logits -----


def filter_logits(
    logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0, min_p: float = 0.0
) -> torch.Tensor:
    """Mask (to -inf) every token outside the top-k, outside the nucleus, or below min-p.

    The nucleus is the smallest set of most likely tokens whose probability reaches ``top_p``.
    Min-p keeps the tokens whose probability is at least ``min_p`` times the most likely
    token's (Nguyen et al. 2024), so the cut adapts to how confident the model is. The filters
    apply in that order, each to what the previous one kept.
    """
    logits = logits.clone()
    if top_k > 0 and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1, None]
        logits[logits < kth] = float("-inf")
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = torch.softmax(sorted_logits, dim=-1)
        mass_before = torch.cumsum(probs, dim=-1) - probs
        # Drop a token when the tokens before it already reach top_p.
        drop_sorted = mass_before >= top_p
        # The most likely token always stays: a top_p below float32's smallest number (5e-304)
        # compares as 0, which dropped every token and left softmax nothing but NaN.
        drop_sorted[..., 0] = False
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits[drop] = float("-inf")
    if min_p > 0.0:
        probs = torch.softmax(logits, dim=-1)
        threshold = min_p * probs.max(dim=-1, keepdim=True).values
        logits[probs < threshold] = float("-inf")
    return logits


def sample_next(
    logits: torch.Tensor,
    temperature: float,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
    min_p: float = 0.0,
) -> torch.Tensor:
    """Next token ids (B,) from last-position logits (B, V); temperature 0 is argmax."""
    if temperature == 0:
        return torch.argmax(logits, dim=-1)
    scaled = logits.float() / temperature
    if top_k > 0 or top_p < 1.0 or min_p > 0.0:
        scaled = filter_logits(scaled, top_k, top_p, min_p)
    probs = torch.softmax(scaled, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


# ----- what the model knows -----


class CandidateIndex:
    """Turns a distribution over tokens into one over the next *character*.

    For the char tokenizer that is the same distribution. For BPE, a token's mass goes to
    its first character (tokens made only of a character's trailing bytes go to U+FFFD).
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        firsts = [
            tokenizer.token_bytes(i).decode("utf-8", "replace")[:1] or "\ufffd"
            for i in range(tokenizer.vocab_size)
        ]
        self.chars = sorted(set(firsts))
        position = {c: j for j, c in enumerate(self.chars)}
        self.index = torch.tensor([position[c] for c in firsts], dtype=torch.long)

    def top(self, probs: torch.Tensor, k: int = 5) -> Candidates:
        """The ``k`` likeliest next characters of token probabilities ``probs`` (V,)."""
        marginal = torch.zeros(len(self.chars), dtype=torch.float64)
        marginal.index_add_(0, self.index, probs.detach().double().cpu())
        values, order = torch.topk(marginal, min(k, len(self.chars)))
        return tuple((self.chars[int(j)], float(v)) for v, j in zip(values, order, strict=True))


@torch.inference_mode()
def next_char_candidates(
    model: LanguageModel, tokenizer: Tokenizer, text: str, k: int = 5
) -> list[tuple[str, float]]:
    """The ``k`` likeliest next characters after ``text`` with their probabilities.

    The model's own distribution (temperature 1, no filters). One pass over ``text``.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        ids = torch.tensor([prompt_ids(tokenizer, text)], device=device)
        logits, _ = model.step(ids, model.init_state(1))
    finally:
        model.train(was_training)
    probs = torch.softmax(logits.float()[0], dim=-1)
    return list(CandidateIndex(tokenizer).top(probs, k))


# ----- streaming -----


@torch.inference_mode()
def _sampled_tokens(
    model: LanguageModel,
    ids: list[int],
    settings: SampleSettings,
    generator: torch.Generator,
    index: CandidateIndex | None,
    k: int,
) -> Iterator[TokenStep]:
    """Endless tokens of strategy "sample" or "greedy"; the caller decides when to stop."""
    device = next(model.parameters()).device
    history = list(ids)
    logits, state = model.step(torch.tensor([ids], device=device), model.init_state(1))
    while True:
        logits = logits.float().cpu()  # (1, V)
        probs = torch.softmax(logits, dim=-1)
        shaped = logits
        if settings.repetition_penalty != 1.0:  # (copying the history costs per character)
            window = recent(history, settings.repetition_window)
            shaped = apply_repetition_penalty(
                logits, torch.tensor([window], dtype=torch.long), settings.repetition_penalty
            )
        if settings.is_greedy:
            token = torch.argmax(shaped, dim=-1)
        else:
            token = sample_next(
                shaped, settings.temperature, settings.top_k, settings.top_p, generator,
                settings.min_p,
            )  # fmt: skip
        t = int(token)
        yield TokenStep(t, float(probs[0, t]), index.top(probs[0], k) if index else ())
        history.append(t)
        logits, state = model.step(token.view(1, 1).to(device), state)


@torch.inference_mode()
def generate_stream_with_probs(
    model: LanguageModel,
    tokenizer: Tokenizer,
    prompt: str,
    settings: SampleSettings,
    generator: torch.Generator | None = None,
    candidates: int = 0,
) -> Iterator[GeneratedChar]:
    """Like :func:`generate_stream`, with each character's probability (and candidates).

    Args:
        candidates: when > 0, each token's first character carries the top ``candidates``
            next-character candidates the model considered there (not for beam search).

    Raises:
        UnknownCharactersError: the prompt has characters outside the vocabulary.
    """
    ids = prompt_ids(tokenizer, prompt)
    if generator is None:
        generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    was_training = model.training
    model.eval()
    try:
        if settings.strategy == "beam":
            steps: Iterator[TokenStep] = BeamSearch(model, tokenizer, ids, settings).stream()
        else:
            index = CandidateIndex(tokenizer) if candidates > 0 else None
            steps = _sampled_tokens(model, ids, settings, generator, index, candidates)
        yield from chars_of(steps, tokenizer, settings)
    finally:
        model.train(was_training)


def generate_stream(
    model: LanguageModel,
    tokenizer: Tokenizer,
    prompt: str,
    settings: SampleSettings,
    generator: torch.Generator | None = None,
) -> Iterator[str]:
    """Yield up to ``settings.length`` generated characters after ``prompt``, one at a time.

    The prompt itself is not yielded. An empty prompt starts from a newline when the
    vocabulary has one, else from token 0. Fewer characters come when a stop string ends
    the text.

    Raises:
        UnknownCharactersError: the prompt has characters outside the vocabulary.
    """
    for item in generate_stream_with_probs(model, tokenizer, prompt, settings, generator):
        yield item.char


def generate(
    model: LanguageModel, tokenizer: Tokenizer, prompt: str, settings: SampleSettings
) -> str:
    """The whole generated continuation as one string."""
    return "".join(generate_stream(model, tokenizer, prompt, settings))
