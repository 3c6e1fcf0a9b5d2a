"""Streaming generation: ``generate_stream`` yields one character at a time.

Strategies (``SampleSettings.strategy``):

- ``"sample"``: draw from the model's distribution after, in this order, the repetition
  penalty, the temperature, then the top-k, top-p (nucleus) and min-p filters. Temperature 0
  means greedy argmax (as in nanochat).
- ``"greedy"``: always the most likely token (after the repetition penalty).
- ``"beam"``: beam search (engine/beam.py). It streams the *stable prefix*: characters are
  yielded as soon as every hypothesis still in the running shares them, so they can no
  longer change; the rest of the winning hypothesis arrives when the search ends.

Everything is a pure function of the model, the prompt, the settings and a seeded
``torch.Generator`` (never torch's global RNG): same inputs, same text. Each new token costs
one model step over one token (carried LSTM state, GPT KV cache). ``length`` and ``stop``
count *characters* whatever the tokenizer; a multi-character BPE token is yielded one
character at a time.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from engine.config import MIN_TEMPERATURE
from engine.tokenizer import Tokenizer

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
            raise ValueError("Invalid sample settings: " + "; ".join(problems) + ".")

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
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits[drop] = float("-inf")
    if min_p > 0.0:
        probs = torch.softmax(logits, dim=-1)
        threshold = min_p * probs.max(dim=-1, keepdim=True).values
        logits[probs < threshold] = float("-inf")
    return logits


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


def recent(history: Sequence[int], window: int) -> list[int]:
    """The ids the repetition penalty looks at: the last ``window`` (0 = all)."""
    return list(history[-window:]) if window > 0 else list(history)


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


@torch.inference_mode()
def next_char_candidates(
    model: nn.Module, tokenizer: Tokenizer, text: str, k: int = 5
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
    model: nn.Module,
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


@torch.inference_mode()
def generate_stream_with_probs(
    model: nn.Module,
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
            from engine.beam import BeamSearch

            steps: Iterator[TokenStep] = BeamSearch(model, tokenizer, ids, settings).stream()
        else:
            index = CandidateIndex(tokenizer) if candidates > 0 else None
            steps = _sampled_tokens(model, ids, settings, generator, index, candidates)
        yield from chars_of(steps, tokenizer, settings)
    finally:
        model.train(was_training)


def generate_stream(
    model: nn.Module,
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


def generate(model: nn.Module, tokenizer: Tokenizer, prompt: str, settings: SampleSettings) -> str:
    """The whole generated continuation as one string."""
    return "".join(generate_stream(model, tokenizer, prompt, settings))
