"""The GPT's generation state: a window of tokens and their keys and values per layer."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class KVCache:
    """Generation state: the tokens of the current window and their keys/values per layer.

    ``keys[i]``/``values[i]`` are preallocated (B, n_head, block_size, head_size) buffers of
    which the first ``length`` positions are filled; ``tokens`` (B, length) are the window's
    token ids, kept so the cache can be rebuilt when the window slides.
    """

    tokens: torch.Tensor
    keys: list[torch.Tensor]
    values: list[torch.Tensor]

    @property
    def length(self) -> int:
        return self.tokens.size(1)

    def select(self, index: torch.Tensor) -> KVCache:
        """The cache of batch rows ``index``, in that order (repeats allowed)."""
        pick = [t.index_select(0, index) for t in (self.tokens, *self.keys, *self.values)]
        n = len(self.keys)
        return KVCache(pick[0], pick[1 : n + 1], pick[n + 1 :])
