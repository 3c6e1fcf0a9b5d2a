"""What every decoder shares: the settings, a generated token, the repetition penalty,
the prompt's ids, and turning tokens into characters that end at a length or a stop string.

Split from engine/generate/sampling.py so the samplers there and the beam search in
engine/generate/beam.py
both build on it without importing each other.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import torch

from engine.config.schema import MIN_TEMPERATURE
from engine.errors import UserError
from engine.text.tokenizer import Tokenizer


class SampleSettingsError(UserError, ValueError):
    """Sample settings out of range (each problem named)."""


STRATEGIES = ("sample", "greedy", "beam")
Candidates = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class SampleSettings:
    """How to generate. Defaults reproduce the seed: temperature 0.8 sampling, no filters.

    Attributes:
        length: characters to generate (the prompt not included).
        temperature: divides the logits; 0 = greedy argmax.
        top_k: keep only the k most likely tokens (0 = all).
        top_p: keep the smallest set of most likely tokens whose mass reaches p (1 = all).
        seed: seeds the sampler's own generator.
        strategy: "sample", "greedy" or "beam".
        min_p: keep tokens with probability >= min_p x the top token's (0 = off).
        repetition_penalty: CTRL-style penalty > 1 on tokens of the recent context: a
            positive logit is divided by it, a negative one multiplied (1 = off).
        repetition_window: how many recent tokens (prompt included) the penalty looks at
            (0 = the whole context).
        beams: beam width for strategy "beam".
        length_penalty: beam hypotheses are ranked by log-probability / tokens**this
            (0 = raw sum, which favours short hypotheses when stop strings end some early).
        stop: generation ends before the first of these strings to appear in the generated
            text (the stop string itself is not yielded).
    """

    length: int = 200
    temperature: float = 0.8
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 1337
    strategy: str = "sample"
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    repetition_window: int = 32
    beams: int = 5
    length_penalty: float = 1.0
    stop: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.stop, tuple):  # accept a list from callers
            object.__setattr__(self, "stop", tuple(self.stop))
        problems = []
        if self.length < 0:
            problems.append(f"length must be >= 0 (got {self.length})")
        if not (self.temperature == 0 or MIN_TEMPERATURE <= self.temperature <= 100):
            problems.append(
                f"temperature must be 0 (greedy) or in [{MIN_TEMPERATURE}, 100] "
                f"(got {self.temperature})"
            )
        if self.top_k < 0:
            problems.append(f"top_k must be >= 0 (got {self.top_k})")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1] (got {self.top_p})")
        if self.strategy not in STRATEGIES:
            problems.append(
                f"strategy must be one of {', '.join(STRATEGIES)} (got {self.strategy!r})"
            )
        if not 0 <= self.min_p <= 1:
            problems.append(f"min_p must be in [0, 1] (got {self.min_p})")
        if not 1e-3 <= self.repetition_penalty <= 1e3:  # beyond: logits overflow to inf
            problems.append(
                "repetition_penalty must be in [0.001, 1000], 1 = off "
                f"(got {self.repetition_penalty})"
            )
        if not 0 <= self.seed < 2**63:
            problems.append(f"seed must be in [0, 2**63) (got {self.seed})")
        if self.repetition_window < 0:
            problems.append(f"repetition_window must be >= 0 (got {self.repetition_window})")
        if not 1 <= self.beams <= 256:
            problems.append(f"beams must be in [1, 256] (got {self.beams})")
        if not math.isfinite(self.length_penalty):
            problems.append(f"length_penalty must be a finite number (got {self.length_penalty})")
        if any(not isinstance(s, str) or not s for s in self.stop):
            problems.append("stop strings must be non-empty text")
        if problems:
            raise SampleSettingsError("Invalid sample settings: " + "; ".join(problems) + ".")

    @property
    def is_greedy(self) -> bool:
        """Argmax decoding: strategy "greedy", or "sample" at temperature 0."""
        return self.strategy == "greedy" or (self.strategy == "sample" and self.temperature == 0)


@dataclass(frozen=True)
class TokenStep:
    """One generated token: its id, the model's probability of it, optional candidates."""

    token: int
    prob: float
    candidates: Candidates = ()


@dataclass(frozen=True)
class GeneratedChar:
    """One streamed character and what the model thought of it.

    Attributes:
        char: the character.
        prob: the probability the model (temperature 1, no filters, no penalty) gave the
            token this character belongs to; every character of a multi-character BPE token
            shares it.
        token_start: True for the first character of a token.
        candidates: when asked for, the top next-character candidates and their
            probabilities at this token's position (first character of a token only).
    """

    char: str
    prob: float
    token_start: bool = True
    candidates: Candidates = ()


def apply_repetition_penalty(
    logits: torch.Tensor, previous: torch.Tensor, penalty: float
) -> torch.Tensor:
    """CTRL's repetition penalty (Keskar et al. 2019) on the tokens in ``previous``.

    Args:
        logits: (B, V) raw logits.
        previous: (B, N) token ids already in each row's context; repeats count once.
        penalty: > 1 discourages repeats: a positive logit is divided by it and a negative
            one multiplied, so the token always becomes less likely. 1 changes nothing.
    """
    if penalty == 1.0 or previous.numel() == 0:
        return logits
    seen = logits.gather(-1, previous)
    penalised = torch.where(seen > 0, seen / penalty, seen * penalty)
    return logits.scatter(-1, previous, penalised)


def recent(history: Sequence[int], window: int) -> list[int]:
    """The ids the repetition penalty looks at: the last ``window`` (0 = all)."""
    return list(history[-window:]) if window > 0 else list(history)


def prompt_ids(tokenizer: Tokenizer, prompt: str) -> list[int]:
    """Ids of ``prompt``; an empty prompt starts from a newline (or id 0 without one).

    Raises:
        UnknownCharactersError: the prompt has characters outside a char vocabulary.
    """
    if prompt:
        ids = tokenizer.encode(prompt)
        if ids:
            return ids
    return tokenizer.encode("\n") if not tokenizer.unknown("\n") else [0]


def pending_stop_prefix(text: str, stops: Iterable[str]) -> int:
    """Length of the longest end of ``text`` that could still grow into a stop string."""
    best = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), best, -1):
            if text.endswith(stop[:n]):
                best = n
                break
    return best


def chars_of(
    steps: Iterable[TokenStep], tokenizer: Tokenizer, settings: SampleSettings
) -> Iterator[GeneratedChar]:
    """Decode tokens into characters, ending after ``length`` of them or before a stop string.

    Characters that might begin a stop string are held back until they cannot, so a stop
    string is never partly yielded. Invalid UTF-8 (a model can produce it) becomes U+FFFD.
    """
    remaining = settings.length
    if remaining <= 0:
        return
    stops = settings.stop
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    held: list[GeneratedChar] = []
    for step in steps:
        text = decoder.decode(tokenizer.token_bytes(step.token))
        for i, char in enumerate(text):
            held.append(GeneratedChar(char, step.prob, i == 0, step.candidates if i == 0 else ()))
            remaining -= 1
            if stops:
                tail = "".join(c.char for c in held)
                hit = next((s for s in stops if tail.endswith(s)), None)
                if hit is not None:
                    yield from held[: len(held) - len(hit)]
                    return
                keep = pending_stop_prefix(tail, stops)
                ready, held = held[: len(held) - keep], held[len(held) - keep :]
                yield from ready
            else:
                yield held.pop()
            if remaining == 0:
                yield from held
                return
    yield from held
