"""CharLSTM, the seed's model: embedding -> multi-layer LSTM -> linear projection."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

LSTMState = tuple[torch.Tensor, torch.Tensor] | None


class CharLSTM(nn.Module):
    """A character-level LSTM language model.

    Args:
        vocab_size: number of distinct tokens.
        embedding_dim: size of each token's embedding (seed: 64).
        hidden_dim: LSTM hidden size (seed: 128).
        num_layers: stacked LSTM layers; dropout applies between them (needs >= 2).
        dropout: dropout probability between layers and before the projection.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 64,
        hidden_dim: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        # nn.LSTM applies dropout only between layers; it warns if asked with one layer.
        self.lstm = nn.LSTM(
            embedding_dim,
            hidden_dim,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_dim, vocab_size)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        state: LSTMState = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits for every position, and the mean cross-entropy when targets are given."""
        x = self.embedding(idx)  # (B, T, E)
        out, _ = self.lstm(x, state)  # (B, T, H)
        logits = self.head(self.drop(out))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    def _lstm(
        self, x: torch.Tensor, state: LSTMState
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The LSTM for generation: one token at a time, on PyTorch's native CPU kernel.

        oneDNN (mkldnn) trains this LSTM about twice as fast as the native kernel at a fixed
        shape, but feeding it one-token shapes between training steps made every later
        training step take seconds (seen on this project's AVX-512 CPU: 2 s per step, and
        17 ms per generated character, instead of 8 ms and 0.15 ms). Generation therefore
        keeps to the native kernel and training keeps oneDNN's fast path.
        """
        if x.device.type != "cpu":
            return self.lstm(x, state)
        # torch.backends.mkldnn.flags() would also reset TF32 and warn each time.
        was_enabled = torch._C._get_mkldnn_enabled()
        torch._C._set_mkldnn_enabled(False)
        try:
            return self.lstm(x, state)
        finally:
            torch._C._set_mkldnn_enabled(was_enabled)

    def init_state(self, batch_size: int) -> LSTMState:
        """No tokens seen yet: nn.LSTM starts from zeros when given None."""
        return None

    def step(self, idx: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        """Feed new tokens after ``state``; logits of the last position (B, V) and new state."""
        x = self.embedding(idx)  # (B, T', E)
        out, new_state = self._lstm(x, state)  # (B, T', H)
        return self.head(out[:, -1, :]), new_state
