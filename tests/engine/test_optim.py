"""Optimizer parameter groups and the learning-rate schedule at chosen steps."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from engine.config import RunConfig
from engine.models import build_model
from engine.optim import build_optimizer, lr_at, param_groups


def gpt_config(**overrides: object) -> RunConfig:
    base = {"model": "gpt", "n_layer": 2, "n_head": 2, "n_embd": 16, "seq_length": 8}
    return RunConfig(**{**base, **overrides})


def test_gpt_weight_decay_only_on_linear_matrices() -> None:
    model = build_model(gpt_config(), vocab_size=11)
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    kept = {names[id(p)] for p in no_decay["params"]}
    # 2 blocks x (qkv, attn proj, mlp fc, mlp proj)
    assert len(decayed) == 8
    assert all(n.endswith(("qkv.weight", "proj.weight", "fc.weight")) for n in decayed)
    assert {"wte.weight", "wpe.weight", "ln_f.weight"} <= kept
    # The tied lm_head is the embedding: counted once, not decayed.
    total = sum(p.numel() for g in (decay, no_decay) for p in g["params"])
    assert total == sum(p.numel() for p in model.parameters())


def test_lstm_groups_decay_weights_not_biases_or_embedding() -> None:
    model = build_model(RunConfig(model="lstm"), vocab_size=11)
    decay, no_decay = param_groups(model, 0.1)
    assert all(p.dim() == 2 for p in decay["params"])
    assert model.embedding.weight in no_decay["params"]
    assert all(p.dim() == 1 for p in no_decay["params"] if p is not model.embedding.weight)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam), ("rmsprop", torch.optim.RMSprop)],
)
def test_build_optimizer_by_name(name: str, kind: type) -> None:
    cfg = gpt_config(optimizer=name, weight_decay=0.1, learning_rate=3e-3, beta2=0.95)
    model = build_model(cfg, vocab_size=11)
    opt = build_optimizer(model, cfg, torch.device("cpu"))
    assert isinstance(opt, kind)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    assert all(g["lr"] == 3e-3 for g in opt.param_groups)
    if name != "rmsprop":
        assert opt.param_groups[0]["betas"] == (0.9, 0.95)
    # One step works (fused kernels included).
    _, loss = model(torch.zeros(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    loss.backward()
    opt.step()


def test_warmup_then_cosine_to_the_floor() -> None:
    cfg = gpt_config(learning_rate=1e-3, lr_schedule="cosine", warmup_steps=10, min_lr_ratio=0.1)
    total = 110
    assert lr_at(0, cfg, total) == pytest.approx(1e-4)  # first of 10 warmup steps
    assert lr_at(4, cfg, total) == pytest.approx(5e-4)
    assert lr_at(9, cfg, total) == pytest.approx(1e-3)  # warmup reaches the peak
    assert lr_at(10, cfg, total) == pytest.approx(1e-3)  # cosine starts at the peak
    assert lr_at(60, cfg, total) == pytest.approx(0.55e-3)  # halfway: mean of peak and floor
    assert lr_at(110, cfg, total) == pytest.approx(1e-4)  # the floor
    assert lr_at(500, cfg, total) == pytest.approx(1e-4)  # and it stays there
    values = [lr_at(s, cfg, total) for s in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_step_and_constant_schedules() -> None:
    step_cfg = gpt_config(learning_rate=1.0, lr_schedule="step", lr_step_size=5, lr_gamma=0.5)
    assert [lr_at(s, step_cfg, 100) for s in (0, 4, 5, 10, 14)] == [1.0, 1.0, 0.5, 0.25, 0.25]
    const = gpt_config(learning_rate=2e-3, lr_schedule="constant", warmup_steps=4)
    assert lr_at(1, const, 100) == pytest.approx(1e-3)
    assert lr_at(50, const, 100) == 2e-3


def test_live_base_lr_keeps_the_shape() -> None:
    cfg = gpt_config(learning_rate=1e-3, lr_schedule="cosine", min_lr_ratio=0.0)
    assert lr_at(50, cfg, 100, base_lr=2e-3) == pytest.approx(2 * lr_at(50, cfg, 100))
    assert math.isclose(lr_at(100, cfg, 100), 0.0, abs_tol=1e-12)
