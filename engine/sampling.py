"""Streaming generation: ``generate_stream`` yields one character at a time.

Sampling is a pure function of the logits and a seeded ``torch.Generator``: the same model,
prompt, settings and seed give the same text. Temperature 0 means greedy argmax. Each new
character costs one model step over one token (carried LSTM state, GPT KV cache).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from engine.tokenizer import CharTokenizer


@dataclass(frozen=True)
class SampleSettings:
    """How to sample. ``top_k`` 0 and ``top_p`` 1.0 disable those filters."""

    length: int = 200
    temperature: float = 0.8
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 1337

    def __post_init__(self) -> None:
        problems = []
        if self.length < 0:
            problems.append(f"length must be >= 0 (got {self.length})")
        if self.temperature < 0:
            problems.append(f"temperature must be >= 0 (got {self.temperature})")
        if self.top_k < 0:
            problems.append(f"top_k must be >= 0 (got {self.top_k})")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1] (got {self.top_p})")
        if problems:
            raise ValueError("Invalid sample settings: " + "; ".join(problems) + ".")


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Mask (to -inf) every token outside the top-k and outside the nucleus of mass ``top_p``.

    The nucleus is the smallest set of most likely tokens whose probability reaches ``top_p``.
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
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits[drop] = float("-inf")
    return logits


def sample_next(
    logits: torch.Tensor,
    temperature: float,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Next token ids (B,) from last-position logits (B, V); temperature 0 is argmax."""
    if temperature == 0:
        return torch.argmax(logits, dim=-1)
    filtered = filter_logits(logits.float() / temperature, top_k, top_p)
    probs = torch.softmax(filtered, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate_stream(
    model: nn.Module,
    tokenizer: CharTokenizer,
    prompt: str,
    settings: SampleSettings,
    generator: torch.Generator | None = None,
) -> Iterator[str]:
    """Yield ``settings.length`` sampled characters after ``prompt``, one at a time.

    The prompt itself is not yielded. An empty prompt starts from a newline when the
    vocabulary has one, else from the first character of the vocabulary.

    Raises:
        UnknownCharactersError: the prompt has characters outside the vocabulary.
    """
    ids = tokenizer.encode(prompt) if prompt else []
    if not ids:
        ids = [tokenizer.stoi.get("\n", 0)]
    device = next(model.parameters()).device
    if generator is None:
        generator = torch.Generator(device="cpu").manual_seed(settings.seed)
    was_training = model.training
    model.eval()
    try:
        state = model.init_state(1)
        logits, state = model.step(torch.tensor([ids], device=device), state)
        for _ in range(settings.length):
            token = sample_next(
                logits.float().cpu(),
                settings.temperature,
                settings.top_k,
                settings.top_p,
                generator,
            )
            yield tokenizer.decode([int(token)])
            logits, state = model.step(token.view(1, 1).to(device), state)
    finally:
        model.train(was_training)


def generate(
    model: nn.Module, tokenizer: CharTokenizer, prompt: str, settings: SampleSettings
) -> str:
    """The whole sampled continuation as one string."""
    return "".join(generate_stream(model, tokenizer, prompt, settings))
