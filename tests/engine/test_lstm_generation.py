"""LSTM generation changes no process-wide state and matches the trained LSTM exactly."""

from __future__ import annotations

import threading

import pytest
import torch

from engine.generate.decoding import SampleSettings
from engine.generate.sampling import generate
from engine.models.lstm import CharLSTM
from engine.text.tokenizer import CharTokenizer

TEXT = "To be, or not to be, that is the question:\n"


@pytest.fixture
def lstm() -> CharLSTM:
    torch.manual_seed(0)
    model = CharLSTM(len(set(TEXT)), embedding_dim=8, hidden_dim=16, num_layers=2)
    return model.eval()


def test_step_by_step_equals_the_whole_sequence(lstm: CharLSTM) -> None:
    idx = torch.randint(0, lstm.vocab_size, (3, 12))
    with torch.no_grad():
        logits, _ = lstm(idx)  # (B, T, V): nn.LSTM over the whole window
        first, state = lstm.step(idx[:, :5], lstm.init_state(3))
        assert torch.allclose(first, logits[:, 4], atol=1e-5)
        for t in range(5, 12):
            out, state = lstm.step(idx[:, t : t + 1], state)
            assert torch.allclose(out, logits[:, t], atol=1e-5)


def test_generation_never_touches_the_process_wide_onednn_switch(
    lstm: CharLSTM, monkeypatch: pytest.MonkeyPatch
) -> None:
    flips: list[bool] = []
    real = torch._C._set_mkldnn_enabled

    def record(enabled: bool) -> None:
        flips.append(enabled)
        real(enabled)

    monkeypatch.setattr(torch._C, "_set_mkldnn_enabled", record)
    tok = CharTokenizer.from_text(TEXT)
    settings = SampleSettings(length=40, temperature=1.0, seed=1)
    texts: list[str] = []
    threads = [
        threading.Thread(target=lambda: texts.append(generate(lstm, tok, "To", settings)))
        for _ in range(2)  # two overlapping generations, as g and c can start
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(texts) == 2 and texts[0] == texts[1]
    assert flips == [], "a generation thread changed oneDNN for the training thread too"
    assert torch._C._get_mkldnn_enabled()
