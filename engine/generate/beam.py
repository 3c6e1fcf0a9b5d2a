"""Beam search over a model's incremental state, streaming the prefix no hypothesis can change.

Hypotheses are ranked by ``log p / tokens ** length_penalty`` (GNMT-style; 0 = raw sum), with
the repetition penalty applied; temperature and the top-k/p and min-p filters do not apply, so
the search is deterministic without a seed, and ``beams = 1`` is greedy decoding. Tokens shared
by every live and finished hypothesis are final (the winner descends from one of them), so
:meth:`BeamSearch.stream` yields them at once; the rest of the winner comes at the end.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

from engine.generate.decoding import (
    SampleSettings,
    TokenStep,
    apply_repetition_penalty,
    chars_of,
    prompt_ids,
    recent,
)
from engine.models import LanguageModel
from engine.text.tokenizer import Tokenizer


@dataclass(frozen=True)
class Hypothesis:
    """A candidate continuation: its tokens, their model probabilities and its score."""

    tokens: tuple[int, ...]
    logprob: float
    probs: tuple[float, ...]
    raw: bytes
    finished: bool

    def score(self, length_penalty: float) -> float:
        return self.logprob / max(len(self.tokens), 1) ** length_penalty


@dataclass(frozen=True)
class BeamResult:
    """One finished hypothesis as text, with its total and length-normalised log-probability."""

    text: str
    logprob: float
    score: float
    tokens: int


def reorder_state(model: LanguageModel, state: Any, rows: Sequence[int]) -> Any:
    """The generation state of the batch rows ``rows`` (in that order, repeats allowed).

    Each model knows its own state's layout (``model.reorder_state``); beam search does not.
    """
    index = torch.tensor(list(rows), dtype=torch.long, device=next(model.parameters()).device)
    return model.reorder_state(state, index)


def _visible_text(raw: bytes) -> str:
    """Complete characters of ``raw`` (a trailing partial character is not counted yet)."""
    return codecs.getincrementaldecoder("utf-8")("replace").decode(raw, final=False)


class BeamSearch:
    """One beam search from prompt ids; iterate :meth:`stream` or call :meth:`run`.

    Each step extends every live hypothesis by every token in one batched model step, keeps
    the ``2 x beams`` best extensions, moves the finished ones (``length`` characters, or a
    stop string) to a pool of the ``beams`` best, and carries up to ``beams`` others on. It
    ends when none is live, or when the pool is full and the best live hypothesis already
    ranks below the worst finished one (the Hugging Face heuristic).
    """

    def __init__(
        self, model: LanguageModel, tokenizer: Tokenizer, ids: list[int], settings: SampleSettings
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.ids = list(ids)
        self.settings = settings
        self.finished: list[Hypothesis] = []
        self.live: list[Hypothesis] = []

    def _is_done(self, raw: bytes) -> bool:
        text = _visible_text(raw)
        return len(text) >= self.settings.length or any(s in text for s in self.settings.stop)

    def _rank(self, hyps: list[Hypothesis]) -> list[Hypothesis]:
        alpha = self.settings.length_penalty
        return sorted(hyps, key=lambda h: (-h.score(alpha), h.tokens))

    @torch.no_grad()
    def stream(self) -> Iterator[TokenStep]:
        """Tokens of the winning hypothesis: the stable prefix while searching, then the rest."""
        s = self.settings
        if s.length <= 0:
            return
        model, device = self.model, next(self.model.parameters()).device
        logits, state = model.step(torch.tensor([self.ids], device=device), model.init_state(1))
        self.live = [Hypothesis((), 0.0, (), b"", False)]
        self.finished = []
        committed = 0
        # Every token adds a byte and a character is at most 4 bytes: a hard stop.
        for _ in range(4 * s.length + 8):
            logits = logits.float().cpu()  # (B, V)
            model_logp = F.log_softmax(logits, dim=-1)
            history = [recent(self.ids + list(h.tokens), s.repetition_window) for h in self.live]
            shaped = apply_repetition_penalty(
                logits, torch.tensor(history, dtype=torch.long), s.repetition_penalty
            )
            totals = torch.tensor([h.logprob for h in self.live])[:, None]
            totals = totals + F.log_softmax(shaped, dim=-1)  # (B, V)
            vocab = totals.size(-1)
            values, flat = torch.topk(totals.view(-1), min(2 * s.beams, totals.numel()))
            live, rows = [], []
            for value, position in zip(values.tolist(), flat.tolist(), strict=True):
                row, token = divmod(position, vocab)
                parent = self.live[row]
                raw = parent.raw + self.tokenizer.token_bytes(token)
                child = Hypothesis(
                    (*parent.tokens, token),
                    value,
                    (*parent.probs, float(model_logp[row, token].exp())),
                    raw,
                    self._is_done(raw),
                )
                if child.finished:
                    self.finished.append(child)
                elif len(live) < s.beams:
                    live.append(child)
                    rows.append(row)
            self.finished = self._rank(self.finished)[: s.beams]
            self.live = live
            if not live:
                break
            alpha = s.length_penalty
            if len(self.finished) >= s.beams and max(h.score(alpha) for h in live) <= min(
                h.score(alpha) for h in self.finished
            ):
                break
            pool = live + self.finished
            shared = _common_prefix([h.tokens for h in pool])
            for i in range(committed, shared):
                yield TokenStep(pool[0].tokens[i], pool[0].probs[i])
            committed = max(committed, shared)
            state = reorder_state(model, state, rows)
            step_ids = torch.tensor([[h.tokens[-1]] for h in live], device=device)
            logits, state = model.step(step_ids, state)
        best = self.ranked()[0]
        for i in range(committed, len(best.tokens)):
            yield TokenStep(best.tokens[i], best.probs[i])

    def ranked(self) -> list[Hypothesis]:
        """Finished hypotheses best first (live ones too if the search hit its hard stop)."""
        return self.finished or self._rank(self.live)

    def run(self) -> list[BeamResult]:
        """Search to the end; the finished hypotheses as text, best first."""
        for _ in self.stream():
            pass
        alpha = self.settings.length_penalty
        return [
            BeamResult(
                text="".join(
                    c.char
                    for c in chars_of(
                        (TokenStep(t, p) for t, p in zip(h.tokens, h.probs, strict=True)),
                        self.tokenizer,
                        self.settings,
                    )
                ),
                logprob=h.logprob,
                score=h.score(alpha),
                tokens=len(h.tokens),
            )
            for h in self.ranked()
        ]


def _common_prefix(seqs: list[tuple[int, ...]]) -> int:
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for i in range(n):
        if any(s[i] != first[i] for s in seqs):
            return i
    return n


def beam_search(
    model: LanguageModel, tokenizer: Tokenizer, prompt: str, settings: SampleSettings
) -> list[BeamResult]:
    """Up to ``settings.beams`` finished continuations of ``prompt``, best first."""
    was_training = model.training
    model.eval()
    try:
        return BeamSearch(model, tokenizer, prompt_ids(tokenizer, prompt), settings).run()
    finally:
        model.train(was_training)
