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
        """The LSTM for generation, on CPU as plain matrix products, one position at a time.

        oneDNN (mkldnn) trains this LSTM about twice as fast as the native kernel at a fixed
        shape, but feeding its RNN kernel one-token shapes between training steps made every
        later training step take seconds (seen on this project's AVX-512 CPU: 2 s per step
        instead of 8 ms). Switching oneDNN off around each step is no answer: the switch is
        process-wide, so a generation thread would slow (or, with two overlapping
        generations, leave off) the training thread's fast path. The cell written out here
        uses no RNN kernel and changes no global state. Same weights, same gate order
        (input, forget, cell, output) as ``nn.LSTM``; eval-mode only (no dropout).
        """
        if x.device.type != "cpu":
            return self.lstm(x, state)
        batch, length, _ = x.shape  # (B, T, E)
        if state is None:
            h0 = x.new_zeros(self.num_layers, batch, self.hidden_dim)
            state = (h0, torch.zeros_like(h0))
        hs, cs = [], []
        inputs = x
        for layer in range(self.num_layers):
            w_ih = getattr(self.lstm, f"weight_ih_l{layer}")  # (4H, in)
            w_hh = getattr(self.lstm, f"weight_hh_l{layer}")  # (4H, H)
            bias = getattr(self.lstm, f"bias_ih_l{layer}") + getattr(self.lstm, f"bias_hh_l{layer}")
            projected = F.linear(inputs, w_ih, bias)  # (B, T, 4H): every position at once
            h, c = state[0][layer], state[1][layer]  # (B, H)
            outputs = []
            for t in range(length):
                gates = projected[:, t] + F.linear(h, w_hh)  # (B, 4H)
                i, f, g, o = gates.chunk(4, dim=-1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                outputs.append(h)
            inputs = torch.stack(outputs, dim=1)  # (B, T, H)
            hs.append(h)
            cs.append(c)
        return inputs, (torch.stack(hs), torch.stack(cs))

    @torch.no_grad()
    def forward_with_states(
        self, idx: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits (B, T, V) and every layer's hidden and cell states after each token,
        ``h_seq`` and ``c_seq`` (B, T, num_layers, H), for analysis (engine.analysis.cells).

        nn.LSTM returns only the last layer's hidden states over time, so this runs the
        gate equations itself (PyTorch's gate order i, f, g, o) one step at a time: slow,
        never used for training, and the same numbers as :meth:`forward` in eval mode.
        """
        x = self.embedding(idx)  # (B, T, E)
        B, T, _ = x.shape
        hs, cs = [], []
        for layer in range(self.num_layers):
            w_ih = getattr(self.lstm, f"weight_ih_l{layer}")
            w_hh = getattr(self.lstm, f"weight_hh_l{layer}")
            bias = getattr(self.lstm, f"bias_ih_l{layer}") + getattr(self.lstm, f"bias_hh_l{layer}")
            inputs = x @ w_ih.T + bias  # (B, T, 4H): the input half of every step at once
            h = x.new_zeros(B, self.hidden_dim)
            c = x.new_zeros(B, self.hidden_dim)
            h_steps, c_steps = [], []
            for t in range(T):
                i, f, g, o = (inputs[:, t] + h @ w_hh.T).chunk(4, dim=-1)  # 4 x (B, H)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                h_steps.append(h)
                c_steps.append(c)
            x = torch.stack(h_steps, dim=1)  # (B, T, H): the next layer's input
            hs.append(x)
            cs.append(torch.stack(c_steps, dim=1))
        logits = self.head(x)  # (B, T, V); dropout is off in eval mode
        return logits, torch.stack(hs, dim=2), torch.stack(cs, dim=2)

    def init_state(self, batch_size: int) -> LSTMState:
        """No tokens seen yet: nn.LSTM starts from zeros when given None."""
        return None

    def reorder_state(self, state: LSTMState, index: torch.Tensor) -> LSTMState:
        """The state of batch rows ``index`` (beam search keeps its best hypotheses)."""
        if state is None:
            return None
        h, c = state  # (layers, B, H) each
        return h.index_select(1, index), c.index_select(1, index)

    def step(self, idx: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        """Feed new tokens after ``state``; logits of the last position (B, V) and new state."""
        x = self.embedding(idx)  # (B, T', E)
        out, new_state = self._lstm(x, state)  # (B, T', H)
        return self.head(out[:, -1, :]), new_state
