"""Device and precision choice, CPU threads, and torch.compile's visible fallback."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from engine.config.schema import RunConfig
from engine.runtime import device as dev
from engine.runtime.device import (
    CompiledModel,
    DeviceError,
    autocast,
    configure_cpu,
    maybe_compile,
    select_device,
    select_dtype,
)

CPU = torch.device("cpu")


def test_auto_device_is_available() -> None:
    assert select_device("auto").type in {"cuda", "mps", "cpu"}
    assert select_device("cpu") == CPU


def test_explicit_dtypes() -> None:
    assert select_dtype(RunConfig(dtype="float32"), CPU) == torch.float32
    assert select_dtype(RunConfig(dtype="bfloat16"), CPU) == torch.bfloat16
    with pytest.raises(DeviceError, match="CUDA"):
        select_dtype(RunConfig(dtype="float16"), CPU)


def test_auto_dtype_on_cpu_follows_bf16_support(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dev, "cpu_supports_bf16", lambda: True)
    assert select_dtype(RunConfig(dtype="auto"), CPU) == torch.bfloat16
    monkeypatch.setattr(dev, "cpu_supports_bf16", lambda: False)
    assert select_dtype(RunConfig(dtype="auto"), CPU) == torch.float32


def test_autocast_bf16_on_cpu_and_float32_is_a_no_op() -> None:
    a = torch.randn(4, 4)
    with autocast(CPU, torch.bfloat16):
        assert (a @ a).dtype == torch.bfloat16
    with autocast(CPU, torch.float32):
        assert (a @ a).dtype == torch.float32


def test_configure_cpu_sets_threads() -> None:
    before = torch.get_num_threads()
    try:
        assert configure_cpu(1) == "cpu threads: 1"
        assert torch.get_num_threads() == 1
        assert configure_cpu(0).startswith("cpu threads: ")
        assert torch.get_num_threads() >= 1
    finally:
        torch.set_num_threads(before)


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        return self.lin(idx), None

    def init_state(self, batch_size: int) -> None:
        return None

    def step(self, idx: torch.Tensor, state: None):
        return self.lin(idx), state


def test_compile_off_returns_the_model_unchanged() -> None:
    model = Tiny()
    assert maybe_compile(model, RunConfig(compile=False), CPU) == (model, None)


def test_compile_unavailable_falls_back_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dev.shutil, "which", lambda name: None)
    model = Tiny()
    out, note = maybe_compile(model, RunConfig(compile=True), CPU)
    assert out is model
    assert note is not None and "C++ compiler" in note and "eager" in note


def test_compile_failure_at_first_call_falls_back_eagerly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(model: nn.Module, **kwargs: object):
        def call(*args: object) -> None:
            raise RuntimeError("inductor exploded\nlong traceback")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    model = Tiny()
    wrapped, note = maybe_compile(model, RunConfig(compile=True), CPU)
    assert isinstance(wrapped, CompiledModel) and note is not None
    x = torch.randn(2, 3)
    with caplog.at_level(logging.WARNING, logger="engine.runtime.device"):
        out, _ = wrapped(x)
    torch.testing.assert_close(out, model(x)[0])
    assert wrapped.failure == "RuntimeError: inductor exploded"
    assert "continuing eagerly" in caplog.text
    # checkpoint.unwrap() finds the plain model under the same name torch.compile uses.
    assert wrapped._orig_mod is model


def test_compiled_model_runs_eval_and_step_eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fake(model: nn.Module, **kwargs: object):
        def call(*args: object):
            calls.append("compiled")
            return model(*args)

        return call

    monkeypatch.setattr(torch, "compile", fake)
    wrapped = CompiledModel(Tiny())
    x = torch.randn(2, 3)
    wrapped.train()
    wrapped(x)
    assert calls == ["compiled"]
    wrapped.eval()
    wrapped(x)
    wrapped.step(x, wrapped.init_state(2))
    with torch.no_grad():
        wrapped.train()
        wrapped(x)
    assert calls == ["compiled"]
